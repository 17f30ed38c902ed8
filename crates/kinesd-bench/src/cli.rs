//! Command-line options of every subcommand.

use std::time::{SystemTime, UNIX_EPOCH};

use clap::{Args, Parser, Subcommand};

use crate::records::Shape;

/// A load generator for any Amazon Kinesis Data Streams endpoint (awsJson 1.1 over HTTP/1.1,
/// keep-alive connections, a fixed well-formed SigV4 header).
#[derive(Parser)]
#[command(name = "kinesd-bench", version, about, long_about)]
pub struct Cli {
    /// Worker threads of the load generator (default: one per core).
    #[arg(long, global = true)]
    pub threads: Option<usize>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// PutRecords as fast as the server takes them, for a duration or a record count.
    Put(PutArgs),
    /// Fill a stream, then read it from TRIM_HORIZON with several readers (catch-up read).
    Get(GetArgs),
    /// Producers and tailing consumers at once; end-to-end latency from put to get.
    Mixed(MixedArgs),
    /// Enhanced fan-out: consumers subscribed to every shard (SubscribeToShard) under a put
    /// load; delivered records/s and put-to-event latency.
    Subscribe(SubscribeArgs),
    /// kinesd's `GET /metrics` with many streams: create them (one record each), then time
    /// scrapes one after another.
    Scrape(ScrapeArgs),
    /// Everything at once for a long time, sampled every minute: paced producers, polling
    /// consumers and fan-out subscribers that follow every shard and its children, and
    /// periodic resharding; server memory, open files, connections, latencies and errors per
    /// minute, whether what was consumed is what was acknowledged, and a verdict on flatness.
    Soak(SoakArgs),
    /// An HTTP server that answers every PutRecords with a fixed answer without parsing the
    /// request: the ceiling of the load generator and loopback on this machine.
    NullServer(NullServerArgs),
}

/// Where to send load and how to report it.
#[derive(Args, Clone)]
pub struct TargetArgs {
    /// The endpoint, http://host:port or https://host:port.
    #[arg(long, default_value = "http://127.0.0.1:4567")]
    pub endpoint: String,
    /// PEM certificates to trust for an https:// endpoint (e.g. kinesd's generated
    /// `<data-dir>/tls/cert.pem`); required with https://.
    #[arg(long)]
    pub ca_bundle: Option<std::path::PathBuf>,
    /// Stream to use; created if missing (default: a new `kinesd-bench-<workload>-<ms>`).
    #[arg(long)]
    pub stream: Option<String>,
    /// Shards of the stream when it is created.
    #[arg(long, default_value_t = 4)]
    pub shards: u32,
    /// The server's process id: report its CPU time per record and its peak RSS.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// A name for the target, carried into the report (e.g. `kinesd`).
    #[arg(long)]
    pub label: Option<String>,
    /// Print the report as JSON on stdout (the table goes to stderr).
    #[arg(long)]
    pub json: bool,
    /// No progress line.
    #[arg(long, short)]
    pub quiet: bool,
    /// Seconds a call may take before it counts as a `timeout` error.
    #[arg(long, default_value_t = 30.0)]
    pub request_timeout: f64,
    /// Sign every request with this access key (SigV4, with --secret-key), for servers that
    /// verify signatures (kinesd --credentials); without it a fixed, unverifiable header is sent.
    #[arg(long, requires = "secret_key")]
    pub access_key: Option<String>,
    /// The secret of --access-key.
    #[arg(long, requires = "access_key")]
    pub secret_key: Option<String>,
    /// Region of the signatures' credential scope (the server's --region).
    #[arg(long, default_value = "us-east-1")]
    pub region: String,
}

impl TargetArgs {
    pub async fn endpoint(&self) -> Result<crate::client::Endpoint, String> {
        let timeout = std::time::Duration::from_secs_f64(self.request_timeout.max(0.001));
        let endpoint = crate::client::Endpoint::resolve(&self.endpoint, timeout, self.ca_bundle.as_deref()).await?;
        Ok(match (&self.access_key, &self.secret_key) {
            (Some(key), Some(secret)) => {
                endpoint.signing_with(crate::signer::Signer::new(key.clone(), secret.clone(), self.region.clone()))
            }
            _ => endpoint,
        })
    }

    pub fn stream_name(&self, workload: &str) -> String {
        self.stream.clone().unwrap_or_else(|| {
            let ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
            format!("kinesd-bench-{workload}-{ms}")
        })
    }
}

/// What each PutRecords request carries.
#[derive(Args, Clone)]
pub struct ShapeArgs {
    /// Bytes of data per record.
    #[arg(long, default_value_t = 100)]
    pub record_size: usize,
    /// Records per PutRecords request (1..=500).
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u16).range(1..=500))]
    pub records_per_request: u16,
    /// Distinct partition keys, used in turn (the spread of records over shards).
    #[arg(long, default_value_t = 1000)]
    pub keys: usize,
}

impl ShapeArgs {
    pub fn shape(&self) -> Shape {
        Shape {
            record_size: self.record_size,
            records_per_request: usize::from(self.records_per_request),
            keys: self.keys,
        }
    }
}

#[derive(Args, Clone)]
pub struct PutArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub shape: ShapeArgs,
    /// Concurrent keep-alive connections, one request in flight each.
    #[arg(long, short = 'c', default_value_t = 8)]
    pub connections: usize,
    /// Seconds to measure, after the warm-up.
    #[arg(long, short = 'd', default_value_t = 10.0)]
    pub duration: f64,
    /// Stop after this many records instead (the duration still bounds the run).
    #[arg(long, short = 'n')]
    pub count: Option<u64>,
    /// Seconds of load before measuring starts (0 with --count).
    #[arg(long, default_value_t = 1.0)]
    pub warmup: f64,
    /// Records per second over all connections (0: as fast as possible).
    #[arg(long, default_value_t = 0)]
    pub rate: u64,
    /// The encoding of the PutRecords requests (stream set-up is JSON either way).
    #[arg(long, value_enum, default_value_t = crate::client::Protocol::Json)]
    pub protocol: crate::client::Protocol,
}

#[derive(Args, Clone)]
pub struct GetArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub shape: ShapeArgs,
    /// Records to write before reading.
    #[arg(long, default_value_t = 1_000_000)]
    pub fill: u64,
    /// Seconds the fill may take at most; reading starts with what was written by then.
    #[arg(long, default_value_t = 60.0)]
    pub fill_timeout: f64,
    /// Connections that fill the stream.
    #[arg(long, default_value_t = 8)]
    pub fill_connections: usize,
    /// Concurrent readers; shards are dealt out among them.
    #[arg(long, short = 'r', default_value_t = 4)]
    pub readers: usize,
    /// Limit of each GetRecords call.
    #[arg(long, default_value_t = 10_000)]
    pub limit: u32,
    /// Seconds the read may take at most.
    #[arg(long, short = 'd', default_value_t = 60.0)]
    pub duration: f64,
    /// The encoding of the PutRecords (fill) and GetRecords requests; set-up calls are JSON.
    #[arg(long, value_enum, default_value_t = crate::client::Protocol::Json)]
    pub protocol: crate::client::Protocol,
}

#[derive(Args, Clone)]
pub struct MixedArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub shape: ShapeArgs,
    /// Producer connections.
    #[arg(long, short = 'p', default_value_t = 4)]
    pub producers: usize,
    /// Consumer connections (default: one per shard); shards are dealt out among them.
    #[arg(long)]
    pub consumers: Option<usize>,
    /// Records per second over all producers (0: as fast as possible).
    #[arg(long, default_value_t = 0)]
    pub rate: u64,
    /// Milliseconds a consumer waits after a pass over its shards that found nothing.
    #[arg(long, default_value_t = 5)]
    pub poll_ms: u64,
    /// Seconds to measure, after the warm-up.
    #[arg(long, short = 'd', default_value_t = 10.0)]
    pub duration: f64,
    /// Seconds of load before measuring starts.
    #[arg(long, default_value_t = 1.0)]
    pub warmup: f64,
    /// The encoding of the PutRecords and GetRecords requests; set-up calls are JSON.
    #[arg(long, value_enum, default_value_t = crate::client::Protocol::Json)]
    pub protocol: crate::client::Protocol,
}

#[derive(Args, Clone)]
pub struct SubscribeArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub shape: ShapeArgs,
    /// Registered consumers; each subscribes to every open shard.
    #[arg(long, default_value_t = 10)]
    pub consumers: usize,
    /// Producer connections.
    #[arg(long, short = 'p', default_value_t = 4)]
    pub producers: usize,
    /// Records per second over all producers (0: as fast as possible).
    #[arg(long, default_value_t = 10_000)]
    pub rate: u64,
    /// Seconds to measure, after the warm-up.
    #[arg(long, short = 'd', default_value_t = 10.0)]
    pub duration: f64,
    /// Seconds of load before measuring starts.
    #[arg(long, default_value_t = 1.0)]
    pub warmup: f64,
}

#[derive(Args, Clone)]
pub struct ScrapeArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Streams to create (`<stream>-<n>`, one shard each unless --shards), each given one record.
    #[arg(long, default_value_t = 1000)]
    pub streams: usize,
    /// Scrapes to time, one after another on one connection.
    #[arg(long, default_value_t = 50)]
    pub scrapes: usize,
}

#[derive(Args, Clone)]
pub struct SoakArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub shape: ShapeArgs,
    /// Minutes of load; the run then drains (at most a minute) and ends.
    #[arg(long, default_value_t = 60.0)]
    pub minutes: f64,
    /// Seconds of load instead of --minutes (short runs in tests).
    #[arg(long, hide = true)]
    pub seconds: Option<f64>,
    /// Seconds between two samples (one row of the report each).
    #[arg(long, default_value_t = 60.0)]
    pub sample_every: f64,
    /// Records per second over all producers, paced (latency means something only below the
    /// server's capacity).
    #[arg(long, default_value_t = 5_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub rate: u64,
    /// Producer connections.
    #[arg(long, short = 'p', default_value_t = 2)]
    pub producers: usize,
    /// Enhanced fan-out consumers registered; each subscribes to every shard.
    #[arg(long, default_value_t = 2)]
    pub consumers: usize,
    /// Seconds between two reshards (UpdateShardCount between --min-shards and --max-shards);
    /// 0: never.
    #[arg(long, default_value_t = 600.0)]
    pub reshard_every: f64,
    /// Open shards after a reshard down.
    #[arg(long, default_value_t = 2)]
    pub min_shards: u32,
    /// Open shards after a reshard up.
    #[arg(long, default_value_t = 4)]
    pub max_shards: u32,
    /// Also write every sample and the verdict as JSON lines to this file.
    #[arg(long)]
    pub report: Option<std::path::PathBuf>,
}

#[derive(Args, Clone)]
pub struct NullServerArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:4566")]
    pub listen: String,
    /// Records in every PutRecords answer.
    #[arg(long, default_value_t = 500)]
    pub records: usize,
    /// Shards DescribeStream reports (every stream is ACTIVE).
    #[arg(long, default_value_t = 4)]
    pub shards: u32,
    /// Stop by itself after this many seconds (0: run until interrupted).
    #[arg(long, default_value_t = 0)]
    pub exit_after: u64,
}

/// Per-connection pause that makes `connections` connections send `rate` records per second
/// in requests of `per_request`.
pub fn pace(rate: u64, connections: usize, per_request: usize) -> Option<std::time::Duration> {
    (rate > 0).then(|| {
        let requests_per_second = rate as f64 / per_request as f64 / connections.max(1) as f64;
        std::time::Duration::from_secs_f64(1.0 / requests_per_second.max(1e-3))
    })
}
