//! `kinesd put STREAM [FILE…]`: each line of the files (or of stdin) becomes a record, sent in
//! PutRecords batches; records a batch reports as failed are sent again with back-off before
//! the next batch goes, so no line overtakes a line of an earlier batch. (Within one batch, a
//! resent record lands after the batch's others, as with any PutRecords retry.)
//!
//! A batch goes out when it is full (500 records or 5 MiB, AWS's PutRecords limits) or when no
//! new line has come for [`LINGER`], so lines typed or piped slowly are sent as they come.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use base64::Engine as _;
use clap::Args;

use super::EndpointArgs;
use super::client::{Client, backoff};
use super::shapes::{PutRecordsEntry, PutRecordsInput, PutRecordsOutput, StreamRef};

/// PutRecords' limits: records per request, and bytes of data and partition keys.
const MAX_BATCH_RECORDS: usize = 500;
const MAX_BATCH_BYTES: usize = 5 * 1024 * 1024;
/// How long a partly filled batch waits for more lines.
const LINGER: Duration = Duration::from_millis(100);
/// Lines read ahead of the batch being sent.
const READ_AHEAD_LINES: usize = 1000;
/// Times a record reported as failed is sent before `put` gives up (about 20 s of back-off).
const MAX_RECORD_ATTEMPTS: u32 = 10;
/// The longest line read: the largest record Kinesis takes (10 MiB, with UpdateMaxRecordSize)
/// and its line ending. A longer line is an error rather than memory without bound.
const MAX_LINE_BYTES: u64 = 10 * 1024 * 1024 + 2;
/// How often the progress line is redrawn.
const PROGRESS_EVERY: Duration = Duration::from_millis(200);

#[derive(Debug, Clone, Args)]
pub struct PutArgs {
    /// Name or ARN of the stream.
    pub stream: String,

    /// Files to read lines from, in order (`-` or none: stdin).
    pub files: Vec<PathBuf>,

    #[command(flatten)]
    pub endpoint: EndpointArgs,

    /// Partition key of every record (default: a random key per record).
    #[arg(long, conflicts_with = "key_field")]
    pub partition_key: Option<String>,

    /// Take each record's partition key from this top-level field of the line read as JSON
    /// (a line without it gets a random key).
    #[arg(long)]
    pub key_field: Option<String>,
}

/// How each record's partition key is chosen.
enum Keys {
    Fixed(String),
    Field(String),
    Random,
}

impl Keys {
    fn key_for(&self, line: &[u8]) -> String {
        match self {
            Keys::Fixed(key) => key.clone(),
            Keys::Field(field) => field_key(line, field).unwrap_or_else(random_key),
            Keys::Random => random_key(),
        }
    }
}

fn random_key() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// The value of `field` in the JSON object `line`, as a partition key (1 to 256 characters).
fn field_key(line: &[u8], field: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(line).ok()?;
    let key = match value.get(field)? {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => return None,
        other => other.to_string(),
    };
    (!key.is_empty()).then(|| key.chars().take(256).collect())
}

pub async fn run(args: PutArgs, host: &str, port: u16, region: &str) -> Result<(), String> {
    let mut client = args.endpoint.client(host, port, region)?;
    let keys = match (&args.partition_key, &args.key_field) {
        (Some(key), _) if key.is_empty() || key.chars().count() > 256 => {
            return Err("--partition-key must be 1 to 256 characters".into());
        }
        (Some(key), _) => Keys::Fixed(key.clone()),
        (None, Some(field)) => Keys::Field(field.clone()),
        (None, None) => Keys::Random,
    };
    let stream = StreamRef::parse(&args.stream);
    let (lines_tx, mut lines) = tokio::sync::mpsc::channel::<Result<Vec<u8>, String>>(READ_AHEAD_LINES);
    let files = args.files.clone();
    std::thread::spawn(move || read_lines(files, lines_tx));
    let mut progress = Progress::new(std::io::stderr().is_terminal());
    let mut batch: Vec<PutRecordsEntry> = Vec::new();
    let mut batch_bytes = 0;
    let mut ended = false;
    while !ended {
        let next = if batch.is_empty() {
            lines.recv().await
        } else {
            match tokio::time::timeout(LINGER, lines.recv()).await {
                Ok(next) => next,
                Err(_) => {
                    send(&mut client, &stream, std::mem::take(&mut batch), &mut progress).await?;
                    batch_bytes = 0;
                    continue;
                }
            }
        };
        match next {
            None => ended = true,
            Some(Err(why)) => return Err(why),
            Some(Ok(line)) if line.is_empty() => {}
            Some(Ok(line)) => {
                let key = keys.key_for(&line);
                let size = line.len() + key.len();
                if !batch.is_empty() && (batch.len() == MAX_BATCH_RECORDS || batch_bytes + size > MAX_BATCH_BYTES) {
                    send(&mut client, &stream, std::mem::take(&mut batch), &mut progress).await?;
                    batch_bytes = 0;
                }
                batch_bytes += size;
                progress.bytes += line.len() as u64;
                batch.push(PutRecordsEntry {
                    data: base64::engine::general_purpose::STANDARD.encode(&line),
                    partition_key: key,
                });
            }
        }
    }
    if !batch.is_empty() {
        send(&mut client, &stream, batch, &mut progress).await?;
    }
    progress.finish();
    Ok(())
}

/// Sends the lines of `files` (stdin when there are none, or for `-`) without their line
/// endings; a read error ends the sequence with it. Runs on a thread of its own: reading a
/// terminal or a pipe blocks.
fn read_lines(files: Vec<PathBuf>, out: tokio::sync::mpsc::Sender<Result<Vec<u8>, String>>) {
    use std::io::{BufRead, Read};
    let sources = if files.is_empty() { vec![PathBuf::from("-")] } else { files };
    for path in sources {
        let shown = if path.as_os_str() == "-" { "stdin".to_string() } else { path.display().to_string() };
        let reader: Box<dyn std::io::Read> = if path.as_os_str() == "-" {
            Box::new(std::io::stdin())
        } else {
            match std::fs::File::open(&path) {
                Ok(file) => Box::new(file),
                Err(e) => {
                    let _ = out.blocking_send(Err(format!("cannot read {shown}: {e}")));
                    return;
                }
            }
        };
        let mut reader = std::io::BufReader::new(reader);
        for number in 1.. {
            let mut line = Vec::new();
            match (&mut reader).take(MAX_LINE_BYTES).read_until(b'\n', &mut line) {
                Ok(0) => break,
                Ok(n) if n as u64 == MAX_LINE_BYTES && line.last() != Some(&b'\n') => {
                    let why = format!("line {number} of {shown} is longer than a record may be (10 MiB)");
                    let _ = out.blocking_send(Err(why));
                    return;
                }
                Ok(_) => {
                    if line.last() == Some(&b'\n') {
                        line.pop();
                        if line.last() == Some(&b'\r') {
                            line.pop();
                        }
                    }
                    if out.blocking_send(Ok(line)).is_err() {
                        return;
                    }
                }
                Err(e) => {
                    let _ = out.blocking_send(Err(format!("cannot read {shown}: {e}")));
                    return;
                }
            }
        }
    }
}

/// Puts `batch`, sending again whatever PutRecords reports as failed until every record is in.
async fn send(
    client: &mut Client,
    stream: &StreamRef,
    mut batch: Vec<PutRecordsEntry>,
    progress: &mut Progress,
) -> Result<(), String> {
    let mut attempt = 1;
    loop {
        let input = PutRecordsInput { stream, records: &batch };
        let output: PutRecordsOutput = client.call("PutRecords", &input).await.map_err(|e| e.to_string())?;
        if output.records.len() != batch.len() {
            return Err(format!("PutRecords answered for {} of {} records", output.records.len(), batch.len()));
        }
        let mut failed = Vec::new();
        let mut last_error = None;
        for (entry, result) in batch.into_iter().zip(output.records) {
            match result.error_code {
                None => progress.put += 1,
                Some(code) => {
                    last_error = Some(format!("{code}: {}", result.error_message.unwrap_or_default()));
                    failed.push(entry);
                }
            }
        }
        progress.draw(false);
        if failed.is_empty() {
            return Ok(());
        }
        if attempt >= MAX_RECORD_ATTEMPTS {
            progress.finish();
            return Err(format!(
                "{} records still failed after {attempt} attempts ({})",
                failed.len(),
                last_error.unwrap_or_default()
            ));
        }
        progress.retried += failed.len() as u64;
        tokio::time::sleep(backoff(attempt)).await;
        attempt += 1;
        batch = failed;
    }
}

/// The progress line, on stderr and only on a terminal (a pipe or a log gets nothing).
struct Progress {
    terminal: bool,
    started: Instant,
    drawn: Option<Instant>,
    put: u64,
    bytes: u64,
    retried: u64,
}

impl Progress {
    fn new(terminal: bool) -> Progress {
        Progress { terminal, started: Instant::now(), drawn: None, put: 0, bytes: 0, retried: 0 }
    }

    fn draw(&mut self, always: bool) {
        if !self.terminal || (!always && self.drawn.is_some_and(|at| at.elapsed() < PROGRESS_EVERY)) {
            return;
        }
        self.drawn = Some(Instant::now());
        let secs = self.started.elapsed().as_secs_f64().max(0.001);
        eprint!(
            "\r{} records put ({:.1} MiB, {:.0} records/s), {} retried\x1b[K",
            self.put,
            self.bytes as f64 / 1048576.0,
            self.put as f64 / secs,
            self.retried
        );
    }

    fn finish(&mut self) {
        if self.terminal {
            self.draw(true);
            eprintln!();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_come_from_a_field_or_are_random() {
        assert_eq!(field_key(br#"{"user":"ann","n":1}"#, "user").as_deref(), Some("ann"));
        assert_eq!(field_key(br#"{"user":42}"#, "user").as_deref(), Some("42"));
        assert_eq!(field_key(br#"{"user":null}"#, "user"), None);
        assert_eq!(field_key(b"not json", "user"), None);
        let keys = Keys::Field("user".into());
        assert_eq!(keys.key_for(br#"{"user":"bob"}"#), "bob");
        assert_eq!(keys.key_for(b"{}").len(), 32);
        assert_ne!(Keys::Random.key_for(b"x"), Keys::Random.key_for(b"x"));
    }
}
