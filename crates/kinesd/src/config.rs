//! Configuration: flags, `KINESD_*` environment variables and a TOML file (`--config`), in
//! that order of precedence, over built-in defaults.
//!
//! Every option is declared once, as a field of [`Config`]; its flag, its environment variable
//! (named after the field by [`with_env_var`]), its key in the file (the long option name), its
//! `--help` text and its row in README.md's table all come from that field. The file's values
//! become the arguments' defaults before the final parse, so clap parses them with the same
//! value parsers as flags, and clap's own precedence (flag, environment, default) puts the file
//! between the environment and the built-in defaults.
//!
//! Adding an option is adding a field: a doc comment whose first sentence reads well in
//! README.md's table, `#[arg(long, default_value_t = ...)]`, and a rule in `Config::check` if
//! it has bounds; then `UPDATE_README=1 cargo test -p kinesd --lib readme` rewrites the table.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::{Arg, Command, CommandFactory, FromArgMatches, Parser};

use crate::engine::EngineConfig;

/// kinesd: a durable, fast server for the Amazon Kinesis Data Streams API.
///
/// Point any AWS client at it with an endpoint URL (e.g. `aws kinesis list-streams
/// --endpoint-url http://127.0.0.1:4567`). Every option can also be set with an environment
/// variable KINESD_<NAME> (e.g. KINESD_PORT=4568) or in a TOML file given by --config (keys as
/// the long option names, e.g. `port = 4568`, `create-stream-ms = 0`); flags beat environment
/// variables, which beat the file.
#[derive(Debug, Clone, Parser)]
#[command(name = "kinesd", version, about, long_about, mut_args = with_env_var)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,

    /// Port to listen on (0 picks a free one; the chosen address is printed on stdout).
    #[arg(long, default_value_t = 4567)]
    pub port: u16,

    /// Directory that holds streams and records.
    #[arg(long, default_value = "./kinesd-data")]
    pub data_dir: PathBuf,

    /// Keep everything in memory and nothing on disk.
    #[arg(long, default_value_t = false)]
    pub in_memory: bool,

    /// When a write is acknowledged: `full` after fdatasync (survives kill -9 and power loss),
    /// `relaxed` after write(), with the journal synced every `--sync-interval-ms`.
    ///
    /// With `relaxed`, a power loss can lose that window of acknowledged records; a crash of
    /// kinesd alone loses nothing.
    #[arg(long, value_enum, default_value_t = DurabilityMode::Full)]
    pub durability: DurabilityMode,

    /// Milliseconds between journal syncs with `--durability relaxed` (a power loss can lose this
    /// window).
    #[arg(long, default_value_t = 200)]
    pub sync_interval_ms: u64,

    /// MiB at which a journal segment file is sealed and a new one started; retention frees
    /// space a whole segment at a time.
    #[arg(long, default_value_t = 64)]
    pub segment_size_mib: u64,

    /// Region reported in ARNs.
    #[arg(long, default_value = "us-east-1")]
    pub region: String,

    /// Twelve-digit account id reported in ARNs and messages.
    #[arg(long, default_value = "000000000000")]
    pub account_id: String,

    /// Milliseconds a new stream spends in CREATING.
    #[arg(long, default_value_t = 500)]
    pub create_stream_ms: u64,

    /// Milliseconds a deleted stream spends in DELETING.
    #[arg(long, default_value_t = 500)]
    pub delete_stream_ms: u64,

    /// Milliseconds a stream spends in UPDATING after a reshard or setting change.
    #[arg(long, default_value_t = 500)]
    pub update_stream_ms: u64,

    /// Milliseconds a new enhanced fan-out consumer spends in CREATING.
    #[arg(long, default_value_t = 500)]
    pub consumer_create_ms: u64,

    /// Milliseconds a deregistered consumer spends in DELETING.
    #[arg(long, default_value_t = 500)]
    pub consumer_delete_ms: u64,

    /// Seconds a SubscribeToShard subscription lasts before it ends (AWS: 300).
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=300))]
    pub subscription_seconds: u64,

    /// Open provisioned shards allowed per account (AWS's us-east-1 default quota is 500).
    #[arg(long, default_value_t = 500)]
    pub shard_limit: u32,

    /// On-demand streams allowed per account (AWS's default quota is 50).
    #[arg(long, default_value_t = 50)]
    pub on_demand_stream_limit: u32,

    /// Seconds a shard iterator stays valid.
    #[arg(long, default_value_t = 300)]
    pub iterator_ttl_seconds: u64,

    /// Milliseconds that one hour of a stream's retention period lasts when records are
    /// trimmed: for tests of retention and disk reclaim only (the default is a real hour).
    ///
    /// Only trimming is sped up; listings and the retention hours reported stay as in AWS.
    #[arg(long, default_value_t = 3_600_000)]
    pub retention_hour_ms: u64,

    /// Client connections served at once at most; further ones wait in the listen backlog.
    #[arg(long, default_value_t = 10_000)]
    pub max_connections: u32,

    /// Concurrent HTTP/2 streams per connection (`SETTINGS_MAX_CONCURRENT_STREAMS`).
    ///
    /// 100 by default, the smallest value RFC 9113 recommends: what AWS's own Kinesis endpoints
    /// advertise is not documented, so kinesd does not claim to match it.
    #[arg(long, default_value_t = 100)]
    pub max_http2_streams: u32,

    /// Seconds a client connection may stay idle (no request in flight) before it is closed.
    ///
    /// Idle or abandoned connections would otherwise hold their --max-connections slot forever;
    /// SDKs reopen a closed pooled connection by themselves. 60 s, like the usual idle timeout of
    /// AWS's load balancers.
    #[arg(long, default_value_t = 60)]
    pub idle_timeout_seconds: u64,

    /// Port of a TLS listener beside the plain one (HTTP/1.1 and HTTP/2 through ALPN); none unless
    /// given, 0 picks a free one (printed on stdout like the plain address).
    #[arg(long)]
    pub tls_port: Option<u16>,

    /// PEM certificate chain for the TLS listener (with --tls-key); without both, kinesd
    /// generates a self-signed certificate for localhost, 127.0.0.1 and ::1.
    ///
    /// The generated certificate and key are kept in `<data-dir>/tls/` and reused on later starts;
    /// with --in-memory the key stays in memory and only the certificate is written (to a fresh
    /// temporary directory) so clients can trust it. kinesd logs the certificate's path.
    #[arg(long)]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key of --tls-cert (PKCS#8, PKCS#1 or SEC1); both or neither.
    #[arg(long)]
    pub tls_key: Option<PathBuf>,

    /// Apply AWS's quotas with AWS's errors: per-shard write and read rates, GetShardIterator
    /// and control-plane call rates, on-demand write capacity.
    ///
    /// Off by default so that local tests run at full speed; docs/testing-failure-paths.md
    /// shows how to use it.
    #[arg(long, default_value_t = false)]
    pub enforce_limits: bool,

    /// TOML file overriding any of the rates --enforce-limits applies (e.g. `[shard]
    /// write-records-per-second = 10`).
    #[arg(long)]
    pub limits: Option<PathBuf>,

    /// TOML file of fault rules (`[[fault]]` tables: operations, streams, shards, and an
    /// error, a per-record failure or latency); also read and replaced at /_kinesd/faults.
    #[arg(long)]
    pub faults: Option<PathBuf>,

    /// Seed of the random choices fault rules make, so that a run repeats them.
    #[arg(long)]
    pub fault_seed: Option<u64>,
    /// TOML file of `[[credential]]` entries (access_key_id, secret_access_key, account_id;
    /// optionally session_token, user, policy): every request must then carry a valid SigV4
    /// signature by one of them.
    ///
    /// Without it, any well-formed signature is accepted and every caller acts in --account-id.
    /// SIGHUP reloads the file; a file that does not load keeps the credentials already loaded.
    /// See docs/security.md.
    #[arg(long)]
    pub credentials: Option<PathBuf>,

    /// Streams to create at start when missing, ACTIVE before the first request:
    /// `name:<shards>` or `name:on-demand`, comma-separated (e.g. `orders:4,events:on-demand`).
    ///
    /// The config file can also declare streams as `[[stream]]` tables with every setting
    /// (`name`, `shards` or `mode = "on-demand"`, `retention-hours`, `max-record-size-kib`,
    /// `tags`, `consumers`). They belong to --account-id. An existing stream keeps its shards and
    /// data; a declared setting that differs is applied (docs/decisions/0015-declared-streams-and-cli.md).
    #[arg(long)]
    pub streams: Option<String>,

    /// Log lines as human-readable text or as one JSON object per line (on stderr; the level
    /// is set by KINESD_LOG, e.g. `KINESD_LOG=debug` logs one line per request).
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Requests slower than this many milliseconds are logged as warnings (0: never).
    #[arg(long, default_value_t = 1000)]
    pub slow_request_ms: u64,

    /// On SIGTERM or SIGINT, how long in-flight requests may take to finish before kinesd
    /// stops anyway (fan-out subscriptions end at once, cleanly).
    #[arg(long, default_value_t = 10_000)]
    pub shutdown_timeout_ms: u64,

    /// NATS server URLs, comma-separated (`nats://a:4222,nats://b:4222`): keep streams and
    /// records in that JetStream cluster instead of --data-dir, so that several kinesd nodes
    /// can serve the same streams.
    ///
    /// Needs nats-server 2.12 or newer, configured with `sync_interval: always` for
    /// acknowledged records to survive a power loss; see docs/cluster.md.
    #[arg(long, value_delimiter = ',')]
    pub nats_url: Vec<String>,

    /// NATS credentials file (JWT and NKey seed) for --nats-url.
    #[arg(long)]
    pub nats_creds: Option<PathBuf>,

    /// Replicas of every JetStream stream kinesd creates with --nats-url (3 survives the loss
    /// of one NATS server; 1 for a single-server test setup).
    #[arg(long, default_value_t = 3)]
    pub nats_replicas: usize,

    /// Prefix of every JetStream stream and KV bucket kinesd creates with --nats-url, so that
    /// several kinesd deployments can share one NATS system (`[A-Za-z0-9_-]+`).
    #[arg(long, default_value = "kinesd")]
    pub nats_prefix: String,

    /// Start even when a NATS server reports that it does not sync to disk before
    /// acknowledging (`sync_interval` other than `always`), accepting that a power loss on a
    /// majority of servers may lose acknowledged records.
    #[arg(long, default_value_t = false)]
    pub nats_allow_unsynced: bool,

    /// TOML file with any of these options (keys are the long option names, e.g.
    /// `create-stream-ms = 0`).
    #[arg(long)]
    pub config: Option<PathBuf>,

    /// The config file's `[[stream]]` tables (see --streams).
    #[arg(skip)]
    pub stream_tables: Vec<crate::declared::StreamDeclaration>,

    /// `kinesd tail` and `kinesd put` (Kinesis clients); with no subcommand, kinesd serves.
    #[command(subcommand)]
    pub command: Option<crate::cli::Command>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DurabilityMode {
    Full,
    Relaxed,
}

/// Names an option's environment variable after it (`data_dir` → `KINESD_DATA_DIR`), so that no
/// option can lack its variable or spell it differently. Applied by the derive, so every way of
/// building the command (`Config::command()`, `Config::parse()`) has the variables.
fn with_env_var(arg: Arg) -> Arg {
    let name = format!("KINESD_{}", arg.get_id().as_str().to_uppercase());
    arg.env(name)
}

impl Config {
    /// Parses the process's arguments, environment and config file; `--help`, `--version` and
    /// argument errors print and exit as usual.
    pub fn load() -> Result<Config, String> {
        Self::parse_args(std::env::args_os().collect(), |e| e.exit())
    }

    pub fn load_from<I, T>(args: I) -> Result<Config, String>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        Self::parse_args(args.into_iter().map(Into::into).collect(), |e| e.render().to_string())
    }

    /// Parses twice when there is a file: first to learn where the file is (from the flag or the
    /// environment), then again with the file's values as the defaults. `on_clap_error` decides
    /// what usage errors, `--help` and `--version` do.
    fn parse_args(args: Vec<OsString>, on_clap_error: impl Fn(clap::Error) -> String) -> Result<Config, String> {
        let command = Config::command();
        let mut matches = command.clone().try_get_matches_from(&args).map_err(&on_clap_error)?;
        if let Some(path) = matches.get_one::<PathBuf>("config") {
            let command = with_file_defaults(command, path)?;
            matches = command.try_get_matches_from(&args).map_err(&on_clap_error)?;
        }
        let mut config = Config::from_arg_matches(&matches).map_err(|e| e.to_string())?;
        if let Some(path) = &config.config {
            config.stream_tables = stream_tables(path)?;
        }
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<(), String> {
        if self.account_id.len() != 12 || !self.account_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("--account-id must be twelve digits, not {:?}", self.account_id));
        }
        if self.segment_size_mib == 0 || self.segment_size_mib > 4096 {
            return Err("--segment-size-mib must be between 1 and 4096".into());
        }
        if self.region.is_empty() {
            return Err("--region must not be empty".into());
        }
        if self.max_connections == 0 {
            return Err("--max-connections must be at least 1".into());
        }
        if self.idle_timeout_seconds == 0 {
            return Err("--idle-timeout-seconds must be at least 1".into());
        }
        if self.max_http2_streams == 0 {
            return Err("--max-http2-streams must be at least 1".into());
        }
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return Err("--tls-cert and --tls-key go together: give both or neither".into());
        }
        if self.tls_cert.is_some() && self.tls_port.is_none() {
            // Otherwise the files would be silently ignored and the operator left wondering.
            return Err("--tls-cert and --tls-key need --tls-port (the TLS listener they are for)".into());
        }
        self.declared_streams()?;
        if self.limits.is_some() && !self.enforce_limits {
            return Err("--limits needs --enforce-limits (the limits it overrides are off otherwise)".into());
        }
        if !self.nats_url.is_empty() && self.in_memory {
            return Err("--nats-url and --in-memory exclude each other: records live in NATS or in memory".into());
        }
        if !matches!(self.nats_replicas, 1..=5) {
            return Err("--nats-replicas must be between 1 and 5 (JetStream's limit)".into());
        }
        let prefix_ok = !self.nats_prefix.is_empty()
            && self.nats_prefix.len() <= 32
            && self.nats_prefix.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !prefix_ok {
            return Err(format!("--nats-prefix must be 1 to 32 of [A-Za-z0-9_-], not {:?}", self.nats_prefix));
        }
        Ok(())
    }

    /// The streams to create at start: the file's `[[stream]]` tables, then `--streams`.
    pub fn declared_streams(&self) -> Result<Vec<crate::declared::StreamDeclaration>, String> {
        use crate::declared::{StreamDeclaration, merge};
        let shorthand = match &self.streams {
            Some(text) => StreamDeclaration::parse_shorthand(text)?,
            None => Vec::new(),
        };
        merge(self.stream_tables.clone(), shorthand)
    }

    /// The rates to enforce: AWS's, with the --limits file's overrides; `None` when limits are
    /// off.
    pub fn limits_config(&self) -> Result<Option<crate::engine::limits::LimitsConfig>, String> {
        use crate::engine::limits::LimitsConfig;
        if !self.enforce_limits {
            return Ok(None);
        }
        let Some(path) = &self.limits else { return Ok(Some(LimitsConfig::default())) };
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        LimitsConfig::from_toml(&text).map(Some).map_err(|e| format!("invalid {}: {e}", path.display()))
    }

    /// The fault rules of --faults (none without it), drawing from --fault-seed.
    pub fn faults(&self) -> Result<crate::api::faults::Faults, String> {
        use crate::api::faults::{Faults, RuleSet};
        let faults = Faults::new(self.fault_seed);
        if let Some(path) = &self.faults {
            let invalid = |e: String| format!("invalid {}: {e}", path.display());
            let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            faults.replace(RuleSet::from_toml(&text).map_err(invalid)?).map_err(invalid)?;
        }
        Ok(faults)
    }

    /// The JetStream store's options, when --nats-url puts this node in cluster mode.
    pub fn jetstream(&self) -> Option<crate::store::jetstream::JetStreamOptions> {
        (!self.nats_url.is_empty()).then(|| crate::store::jetstream::JetStreamOptions {
            urls: self.nats_url.clone(),
            creds: self.nats_creds.clone(),
            replicas: self.nats_replicas,
            prefix: self.nats_prefix.clone(),
        })
    }

    pub fn disk(&self) -> crate::store::disk::DiskOptions {
        use crate::store::disk::{DiskOptions, Durability};
        DiskOptions {
            durability: match self.durability {
                DurabilityMode::Full => Durability::Full,
                DurabilityMode::Relaxed => {
                    Durability::Relaxed(std::time::Duration::from_millis(self.sync_interval_ms.max(1)))
                }
            },
            segment_bytes: self.segment_size_mib * 1024 * 1024,
        }
    }

    /// The slow-request warning threshold (None: off).
    pub fn slow_request(&self) -> Option<std::time::Duration> {
        (self.slow_request_ms > 0).then(|| std::time::Duration::from_millis(self.slow_request_ms))
    }

    pub fn transport(&self) -> crate::transport::TransportOptions {
        crate::transport::TransportOptions {
            max_connections: self.max_connections as usize,
            max_http2_streams: self.max_http2_streams,
            idle_timeout: std::time::Duration::from_secs(self.idle_timeout_seconds),
            shutdown_timeout: std::time::Duration::from_millis(self.shutdown_timeout_ms),
            ..crate::transport::TransportOptions::default()
        }
    }

    /// Where the TLS listener's certificate comes from, if there is a TLS listener.
    pub fn tls(&self) -> Option<crate::transport::tls::CertSource> {
        use crate::transport::tls::CertSource;
        self.tls_port?;
        Some(match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => CertSource::Files { cert: cert.clone(), key: key.clone() },
            _ if self.in_memory => {
                // A directory of this process's own, so two in-memory servers never share or
                // overwrite each other's certificate.
                let dir = std::env::temp_dir().join(format!("kinesd-tls-{}", std::process::id()));
                CertSource::Ephemeral { cert: dir.join("cert.pem") }
            }
            _ => CertSource::Generated { dir: self.data_dir.join("tls") },
        })
    }

    pub fn engine(&self) -> EngineConfig {
        EngineConfig {
            region: self.region.clone(),
            account_id: self.account_id.clone(),
            create_stream_ms: self.create_stream_ms,
            delete_stream_ms: self.delete_stream_ms,
            update_stream_ms: self.update_stream_ms,
            shard_limit: self.shard_limit,
            on_demand_stream_limit: self.on_demand_stream_limit,
            iterator_ttl_ms: self.iterator_ttl_seconds.saturating_mul(1000),
            retention_hour_ms: self.retention_hour_ms.max(1),
            // A pass every 5 s for real hours, proportionally more often for shortened ones.
            retention_interval_ms: (self.retention_hour_ms / 720).clamp(50, 5_000),
            consumer_create_ms: self.consumer_create_ms,
            consumer_delete_ms: self.consumer_delete_ms,
            subscription_ms: self.subscription_seconds.saturating_mul(1000),
            ..EngineConfig::default()
        }
    }
}

/// The config file's key for streams declared at start (`[[stream]]` tables).
const STREAM_TABLES_KEY: &str = "stream";

/// The `[[stream]]` tables of the config file at `path`.
fn stream_tables(path: &Path) -> Result<Vec<crate::declared::StreamDeclaration>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut table: toml::Table =
        text.parse().map_err(|e: toml::de::Error| format!("invalid {}: {e}", path.display()))?;
    match table.remove(STREAM_TABLES_KEY) {
        Some(value) => crate::declared::StreamDeclaration::from_file_value(value, path),
        None => Ok(Vec::new()),
    }
}

/// Makes each of the file's values its argument's default. Every key must be an option's long
/// name, and every value must pass that option's value parser here, so that a bad one is
/// reported against its key in the file rather than against a flag nobody typed.
fn with_file_defaults(mut command: Command, path: &Path) -> Result<Command, String> {
    let invalid = |why: String| format!("invalid {}: {why}", path.display());
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let table: toml::Table = text.parse().map_err(|e: toml::de::Error| invalid(e.to_string()))?;
    for (key, value) in table {
        if key == STREAM_TABLES_KEY {
            continue; // `[[stream]]` tables, read by `stream_tables`
        }
        let Some(arg) = command.get_arguments().find(|a| a.get_long() == Some(key.as_str()) && a.get_id() != "config")
        else {
            let keys: Vec<_> =
                command.get_arguments().filter(|a| a.get_id() != "config").filter_map(Arg::get_long).collect();
            return Err(invalid(format!(
                "unknown key `{key}` (the keys are the long option names: {})",
                keys.join(", ")
            )));
        };
        let text = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            other => {
                return Err(invalid(format!(
                    "key `{key}` must be a string, an integer or a boolean, not {}",
                    other.type_str()
                )));
            }
        };
        // Parsing the value as the default of a lone copy of the argument runs exactly the
        // parser the real parse will, without the environment or flags getting in first; with
        // no help flag, clap's message does not suggest a `--help` that this command lacks.
        let lone = arg.clone().env(None).default_value(text.clone());
        Command::new("kinesd").disable_help_flag(true).arg(lone).try_get_matches_from(["kinesd"]).map_err(|e| {
            invalid(format!("key `{key}`: {}", e.render().to_string().trim().trim_start_matches("error: ")))
        })?;
        let id = arg.get_id().clone();
        command = command.mut_arg(id, |a| a.default_value(text));
    }
    Ok(command)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes `text` as a config file in a fresh directory and loads it with `flags`.
    fn load_with_file(text: &str, flags: &[&str]) -> Result<Config, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kinesd.toml");
        std::fs::write(&path, text).unwrap();
        let args = ["kinesd", "--config", path.to_str().unwrap()].into_iter().chain(flags.iter().copied());
        Config::load_from(args)
    }

    #[test]
    fn defaults_match_the_documentation() {
        let c = Config::load_from(["kinesd"]).unwrap();
        assert_eq!((c.host.as_str(), c.port), ("127.0.0.1", 4567));
        assert_eq!(c.data_dir, PathBuf::from("./kinesd-data"));
        assert_eq!((c.region.as_str(), c.account_id.as_str()), ("us-east-1", "000000000000"));
        assert_eq!((c.create_stream_ms, c.delete_stream_ms, c.update_stream_ms), (500, 500, 500));
        assert_eq!((c.shard_limit, c.iterator_ttl_seconds), (500, 300));
        assert!(!c.in_memory);
    }

    #[test]
    fn file_values_apply_only_where_flags_are_silent() {
        // Removed when the test ends, however it ends.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kinesd.toml");
        std::fs::write(&path, "port = 9000\nregion = \"eu-west-1\"\ncreate-stream-ms = 0\nin-memory = true\n").unwrap();
        let c = Config::load_from(["kinesd", "--config", path.to_str().unwrap(), "--port", "9001"]).unwrap();
        assert_eq!(c.port, 9001, "a flag beats the file");
        assert_eq!(c.region, "eu-west-1");
        assert_eq!(c.create_stream_ms, 0);
        assert!(c.in_memory);
        std::fs::write(&path, "bogus = 1\n").unwrap();
        assert!(Config::load_from(["kinesd", "--config", path.to_str().unwrap()]).is_err());
    }

    #[test]
    fn account_ids_must_be_twelve_digits() {
        assert!(Config::load_from(["kinesd", "--account-id", "123"]).is_err());
    }

    #[test]
    fn enum_and_path_values_come_from_the_file() {
        let c = load_with_file("durability = \"relaxed\"\ndata-dir = \"/x\"\nsync-interval-ms = 50\n", &[]).unwrap();
        assert_eq!(c.durability, DurabilityMode::Relaxed);
        assert_eq!(c.data_dir, PathBuf::from("/x"));
        assert!(matches!(
            c.disk().durability,
            crate::store::disk::Durability::Relaxed(interval) if interval.as_millis() == 50
        ));
        let c = load_with_file("in-memory = false\n", &["--in-memory"]).unwrap();
        assert!(c.in_memory, "a flag beats the file for booleans too");
    }

    #[test]
    fn a_file_value_of_the_wrong_type_is_an_error_naming_its_key() {
        for (text, key) in [
            ("port = \"abc\"", "port"),
            ("port = 70000", "port"),
            ("shard-limit = true", "shard-limit"),
            ("in-memory = \"yes\"", "in-memory"),
            ("durability = \"fast\"", "durability"),
            ("create-stream-ms = 1.5", "create-stream-ms"),
            ("region = [\"eu-west-1\"]", "region"),
        ] {
            let e = load_with_file(text, &[]).unwrap_err();
            assert!(e.contains(&format!("key `{key}`")), "{text}: {e}");
        }
        // The whole file is checked, even where a flag would have won.
        let e = load_with_file("port = \"abc\"", &["--port", "1"]).unwrap_err();
        assert!(e.contains("key `port`"), "{e}");
    }

    #[test]
    fn unknown_keys_are_rejected_by_name() {
        let e = load_with_file("bogus = 1\n", &[]).unwrap_err();
        assert!(e.contains("unknown key `bogus`"), "{e}");
        let e = load_with_file("create_stream_ms = 0\n", &[]).unwrap_err();
        assert!(e.contains("unknown key `create_stream_ms`"), "keys are kebab-case: {e}");
        let e = load_with_file("config = \"other.toml\"\n", &[]).unwrap_err();
        assert!(e.contains("unknown key `config`"), "a file cannot name another file: {e}");
        let e = load_with_file("[server]\nport = 1\n", &[]).unwrap_err();
        assert!(e.contains("key `server`"), "{e}");
    }

    #[test]
    fn connection_limits_default_and_must_be_at_least_one() {
        let c = Config::load_from(["kinesd"]).unwrap();
        assert_eq!((c.max_connections, c.max_http2_streams), (10_000, 100));
        let c = Config::load_from(["kinesd", "--max-connections", "1", "--max-http2-streams", "1"]).unwrap();
        assert_eq!((c.max_connections, c.max_http2_streams), (1, 1));
        for flag in ["--max-connections", "--max-http2-streams"] {
            let e = Config::load_from(["kinesd", flag, "0"]).unwrap_err();
            assert!(e.contains(flag), "{e}");
            let e = load_with_file(&format!("{} = 0", &flag[2..]), &[]).unwrap_err();
            assert!(e.contains(flag), "{e}");
        }
    }

    #[test]
    fn tls_cert_and_key_go_together() {
        let c = Config::load_from(["kinesd"]).unwrap();
        assert!(c.tls().is_none(), "no TLS listener unless --tls-port is given");
        for flags in [["--tls-cert", "c.pem"], ["--tls-key", "k.pem"]] {
            let e = Config::load_from(["kinesd", "--tls-port", "0", flags[0], flags[1]]).unwrap_err();
            assert!(e.contains("--tls-cert and --tls-key go together"), "{e}");
        }
        let e = Config::load_from(["kinesd", "--tls-cert", "c.pem", "--tls-key", "k.pem"]).unwrap_err();
        assert!(e.contains("need --tls-port"), "{e}");
        let c = Config::load_from(["kinesd", "--tls-port", "0", "--tls-cert", "c.pem", "--tls-key", "k.pem"]).unwrap();
        assert!(matches!(c.tls(), Some(crate::transport::tls::CertSource::Files { .. })));
        let c = Config::load_from(["kinesd", "--tls-port", "0", "--data-dir", "/d"]).unwrap();
        assert!(
            matches!(c.tls(), Some(crate::transport::tls::CertSource::Generated { dir }) if dir == Path::new("/d/tls"))
        );
        let c = Config::load_from(["kinesd", "--tls-port", "0", "--in-memory"]).unwrap();
        assert!(matches!(c.tls(), Some(crate::transport::tls::CertSource::Ephemeral { .. })));
    }

    #[test]
    fn credentials_come_from_the_flag_the_environment_or_the_file() {
        assert!(Config::load_from(["kinesd"]).unwrap().credentials.is_none());
        let c = Config::load_from(["kinesd", "--credentials", "/etc/kinesd/keys.toml"]).unwrap();
        assert_eq!(c.credentials.as_deref(), Some(Path::new("/etc/kinesd/keys.toml")));
        let c = load_with_file("credentials = \"keys.toml\"\n", &[]).unwrap();
        assert_eq!(c.credentials.as_deref(), Some(Path::new("keys.toml")));
    }

    #[test]
    fn every_option_has_an_environment_variable_named_after_it() {
        let command = Config::command();
        let options: Vec<_> = command.get_arguments().collect();
        assert!(options.len() > 10, "the options are declared on Config");
        for arg in options {
            let long = arg.get_long().expect("every option has a long name");
            let expected = format!("KINESD_{}", long.replace('-', "_").to_uppercase());
            assert_eq!(arg.get_env().and_then(|e| e.to_str()), Some(expected.as_str()), "--{long}");
        }
    }

    /// README.md's configuration table as the declarations render it: each option, its built-in
    /// default and the first sentence of its help.
    fn markdown_table() -> String {
        let mut table = String::from("| Option | Default | Meaning |\n|---|---|---|\n");
        for arg in Config::command().get_arguments() {
            let long = arg.get_long().expect("every option has a long name");
            let default =
                arg.get_default_values().first().map_or("none".to_string(), |v| format!("`{}`", v.to_string_lossy()));
            let help = arg.get_help().unwrap_or_else(|| panic!("--{long} needs a doc comment")).to_string();
            table += &format!("| `--{long}` | {default} | {} |\n", help.replace('|', "\\|"));
        }
        table
    }

    const TABLE_START: &str = "<!-- Generated from crates/kinesd/src/config.rs; \
                               `UPDATE_README=1 cargo test -p kinesd --lib readme` rewrites it. -->\n\n";
    const TABLE_END: &str = "\n<!-- End of the generated table. -->";

    /// README.md's table is the documentation most people read, so it must not drift from the
    /// declarations; with `UPDATE_README=1` the test rewrites it instead of failing.
    #[test]
    fn readme_table_matches_the_declarations() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
        let readme = std::fs::read_to_string(&path).unwrap();
        let (before, rest) = readme.split_once(TABLE_START).expect("README.md has the table's start marker");
        let (current, after) = rest.split_once(TABLE_END).expect("README.md has the table's end marker");
        let expected = markdown_table();
        if current == expected {
            return;
        }
        if std::env::var_os("UPDATE_README").is_some() {
            std::fs::write(&path, format!("{before}{TABLE_START}{expected}{TABLE_END}{after}")).unwrap();
            return;
        }
        panic!(
            "README.md's configuration table differs from the options declared on Config; rerun with \
             UPDATE_README=1 to rewrite it. Expected:\n{expected}"
        );
    }
}
