//! Configuration: flags, `KINESD_*` environment variables and a TOML file (`--config`), in
//! that order of precedence, over built-in defaults.

use std::path::PathBuf;

use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser};
use serde::Deserialize;

use crate::engine::EngineConfig;

/// kinesd: a durable, fast server for the Amazon Kinesis Data Streams API.
///
/// Point any AWS client at it with an endpoint URL (e.g. `aws kinesis list-streams
/// --endpoint-url http://127.0.0.1:4567`). Every option can also be set with an environment
/// variable KINESD_<NAME> (e.g. KINESD_PORT=4568) or in a TOML file given by --config (keys as
/// the long option names, e.g. `port = 4568`, `create-stream-ms = 0`); flags beat environment
/// variables, which beat the file.
#[derive(Debug, Clone, Parser)]
#[command(name = "kinesd", version, about, long_about)]
pub struct Config {
    /// TOML file with any of these options.
    #[arg(long, env = "KINESD_CONFIG")]
    pub config: Option<PathBuf>,

    /// Address to listen on.
    #[arg(long, env = "KINESD_HOST", default_value = "127.0.0.1")]
    pub host: String,

    /// Port to listen on (0 picks a free one; the chosen address is printed on stdout).
    #[arg(long, env = "KINESD_PORT", default_value_t = 4567)]
    pub port: u16,

    /// Directory that holds streams and records.
    #[arg(long, env = "KINESD_DATA_DIR", default_value = "./kinesd-data")]
    pub data_dir: PathBuf,

    /// Keep everything in memory and nothing on disk.
    #[arg(long, env = "KINESD_IN_MEMORY", default_value_t = false)]
    pub in_memory: bool,

    /// When a write is acknowledged: `full` after fdatasync (survives kill -9 and power loss);
    /// `relaxed` after write(), with the journal synced every --sync-interval-ms (a power loss
    /// can lose that window of acknowledged records; a crash of kinesd alone loses nothing).
    #[arg(long, env = "KINESD_DURABILITY", value_enum, default_value_t = DurabilityMode::Full)]
    pub durability: DurabilityMode,

    /// How often the journal is synced with --durability relaxed.
    #[arg(long, env = "KINESD_SYNC_INTERVAL_MS", default_value_t = 200)]
    pub sync_interval_ms: u64,

    /// Size at which a journal segment file is sealed and a new one started (retention frees
    /// space a whole segment at a time).
    #[arg(long, env = "KINESD_SEGMENT_SIZE_MIB", default_value_t = 64)]
    pub segment_size_mib: u64,

    /// Region reported in ARNs.
    #[arg(long, env = "KINESD_REGION", default_value = "us-east-1")]
    pub region: String,

    /// Twelve-digit account id reported in ARNs and messages.
    #[arg(long, env = "KINESD_ACCOUNT_ID", default_value = "000000000000")]
    pub account_id: String,

    /// Milliseconds a new stream spends in CREATING.
    #[arg(long, env = "KINESD_CREATE_STREAM_MS", default_value_t = 500)]
    pub create_stream_ms: u64,

    /// Milliseconds a deleted stream spends in DELETING.
    #[arg(long, env = "KINESD_DELETE_STREAM_MS", default_value_t = 500)]
    pub delete_stream_ms: u64,

    /// Milliseconds a stream spends in UPDATING after a reshard or setting change.
    #[arg(long, env = "KINESD_UPDATE_STREAM_MS", default_value_t = 500)]
    pub update_stream_ms: u64,

    /// Open provisioned shards allowed per account (AWS's us-east-1 default quota is 500).
    #[arg(long, env = "KINESD_SHARD_LIMIT", default_value_t = 500)]
    pub shard_limit: u32,

    /// On-demand streams allowed per account (AWS's default quota is 50).
    #[arg(long, env = "KINESD_ON_DEMAND_STREAM_LIMIT", default_value_t = 50)]
    pub on_demand_stream_limit: u32,

    /// Seconds a shard iterator stays valid.
    #[arg(long, env = "KINESD_ITERATOR_TTL_SECONDS", default_value_t = 300)]
    pub iterator_ttl_seconds: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DurabilityMode {
    Full,
    Relaxed,
}

/// The TOML file's keys: the long option names.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct FileConfig {
    host: Option<String>,
    port: Option<u16>,
    data_dir: Option<PathBuf>,
    in_memory: Option<bool>,
    durability: Option<DurabilityMode>,
    sync_interval_ms: Option<u64>,
    segment_size_mib: Option<u64>,
    region: Option<String>,
    account_id: Option<String>,
    create_stream_ms: Option<u64>,
    delete_stream_ms: Option<u64>,
    update_stream_ms: Option<u64>,
    shard_limit: Option<u32>,
    on_demand_stream_limit: Option<u32>,
    iterator_ttl_seconds: Option<u64>,
}

impl Config {
    /// Parses the process's arguments, environment and config file; `--help`, `--version` and
    /// argument errors print and exit as usual.
    pub fn load() -> Result<Config, String> {
        let matches = Config::command().get_matches();
        Self::from_matches(&matches)
    }

    pub fn load_from<I, T>(args: I) -> Result<Config, String>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let matches = Config::command().try_get_matches_from(args).map_err(|e| e.render().to_string())?;
        Self::from_matches(&matches)
    }

    fn from_matches(matches: &ArgMatches) -> Result<Config, String> {
        let mut config = Config::from_arg_matches(matches).map_err(|e| e.to_string())?;
        if let Some(path) = config.config.clone() {
            let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            let file: FileConfig = toml::from_str(&text).map_err(|e| format!("invalid {}: {e}", path.display()))?;
            config.merge_file(matches, file);
        }
        config.check()?;
        Ok(config)
    }

    fn merge_file(&mut self, matches: &ArgMatches, file: FileConfig) {
        let unset = |id: &str| matches!(matches.value_source(id), None | Some(ValueSource::DefaultValue));
        macro_rules! take {
            ($field:ident, $id:literal) => {
                if unset($id)
                    && let Some(v) = file.$field
                {
                    self.$field = v;
                }
            };
        }
        take!(host, "host");
        take!(port, "port");
        take!(data_dir, "data_dir");
        take!(in_memory, "in_memory");
        take!(durability, "durability");
        take!(sync_interval_ms, "sync_interval_ms");
        take!(segment_size_mib, "segment_size_mib");
        take!(region, "region");
        take!(account_id, "account_id");
        take!(create_stream_ms, "create_stream_ms");
        take!(delete_stream_ms, "delete_stream_ms");
        take!(update_stream_ms, "update_stream_ms");
        take!(shard_limit, "shard_limit");
        take!(on_demand_stream_limit, "on_demand_stream_limit");
        take!(iterator_ttl_seconds, "iterator_ttl_seconds");
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
        Ok(())
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
            ..EngineConfig::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let dir = std::env::temp_dir().join(format!("kinesd-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("kinesd.toml");
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
}
