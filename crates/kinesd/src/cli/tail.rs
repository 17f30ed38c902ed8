//! `kinesd tail STREAM`: follows a stream's shards with GetRecords and prints each record.
//!
//! Shards are followed the way the KCL follows them: a child shard only once every parent it
//! has among the followed shards has been read to its end, so a key's records come out in the
//! order they were written across a split or a merge. Shards that are not related are read in
//! turn, one GetRecords each per round.

use std::collections::HashSet;
use std::io::Write;
use std::time::Duration;

use base64::Engine as _;
use clap::{Args, ValueEnum};

use super::EndpointArgs;
use super::client::{CallError, Client};
use super::shapes::*;

/// Records asked for per GetRecords (AWS's maximum is 10,000).
const GET_LIMIT: u32 = 1000;
/// Pause after a round in which no shard had anything new: GetRecords is limited to five calls
/// a second per shard on AWS.
const IDLE_POLL: Duration = Duration::from_millis(200);

#[derive(Debug, Clone, Args)]
pub struct TailArgs {
    /// Name or ARN of the stream.
    pub stream: String,

    #[command(flatten)]
    pub endpoint: EndpointArgs,

    /// Where to start: `trim-horizon`, `latest`, an ISO-8601 time (`2026-12-06T08:00:00Z`) or a
    /// sequence number.
    #[arg(long, default_value = "latest")]
    pub from: String,

    /// Follow only this shard (and, after a reshard, its children).
    #[arg(long)]
    pub shard: Option<String>,

    /// How to print each record: its data as `text`, one `json` object, or `hex`.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,

    /// Exit after printing this many records (user records, once de-aggregated).
    #[arg(long)]
    pub max_records: Option<u64>,

    /// Print KPL-aggregated records as they are stored instead of their user records.
    #[arg(long)]
    pub no_deaggregate: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// The record's data, then a newline.
    Text,
    /// One JSON object per line: shard, sequence number, partition key, arrival time, data.
    Json,
    /// The record's data in hexadecimal, then a newline.
    Hex,
}

/// Where reading starts, from `--from`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    TrimHorizon,
    Latest,
    /// Milliseconds since the epoch.
    At(i64),
    Sequence(String),
}

impl Start {
    pub fn parse(text: &str) -> Result<Start, String> {
        let normal = text.trim().to_ascii_lowercase().replace('_', "-");
        match normal.as_str() {
            "trim-horizon" => return Ok(Start::TrimHorizon),
            "latest" => return Ok(Start::Latest),
            _ => {}
        }
        if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(Start::Sequence(text.to_owned()));
        }
        super::time::parse_iso8601(text.trim()).map(Start::At).ok_or_else(|| {
            format!(
                "--from {text:?} is neither trim-horizon, latest, an ISO-8601 time (2026-12-06T08:00:00Z) nor a \
                 sequence number"
            )
        })
    }

    /// The iterator for a shard reached through its parents: everything in it, or from the
    /// time asked for.
    fn for_child(&self) -> Start {
        match self {
            Start::At(ms) => Start::At(*ms),
            _ => Start::TrimHorizon,
        }
    }
}

/// One followed shard and where it has got to.
struct Cursor {
    shard_id: String,
    iterator: String,
    /// The start it was opened with, to reopen it if the iterator expires before any record.
    start: Start,
    last_sequence: Option<String>,
}

pub async fn run(args: TailArgs, host: &str, port: u16, region: &str) -> Result<(), String> {
    let start = Start::parse(&args.from)?;
    let mut client = args.endpoint.client(host, port, region)?;
    let stream = StreamRef::parse(&args.stream);
    let shards = list_shards(&mut client, &stream).await?;
    let first = first_shards(&shards, &start, args.shard.as_deref())?;
    let mut tail = Tail {
        client,
        stream,
        format: args.format,
        deaggregate: !args.no_deaggregate,
        remaining: args.max_records,
        started: HashSet::new(),
        finished: HashSet::new(),
        waiting: Vec::new(),
        cursors: Vec::new(),
        out: std::io::BufWriter::new(std::io::stdout().lock()),
    };
    if tail.remaining == Some(0) {
        return Ok(());
    }
    for (shard_id, start) in first {
        tail.open(shard_id, start).await?;
    }
    match tail.follow(&start).await {
        Err(Stop::Pipe) => Ok(()),
        Err(Stop::Failed(message)) => Err(message),
        Ok(()) => Ok(()),
    }
}

/// Every shard of the stream, in ListShards order.
async fn list_shards(client: &mut Client, stream: &StreamRef) -> Result<Vec<Shard>, String> {
    let mut shards = Vec::new();
    let mut input = ListShardsInput { stream: Some(stream.clone()), next_token: None };
    loop {
        let page: ListShardsOutput = client.call("ListShards", &input).await.map_err(|e| e.to_string())?;
        shards.extend(page.shards);
        match page.next_token {
            Some(token) => input = ListShardsInput { stream: None, next_token: Some(token) },
            None => return Ok(shards),
        }
    }
}

/// Orders decimal sequence numbers (up to 128 digits) without parsing them.
fn sequence_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let (a, b) = (a.trim_start_matches('0'), b.trim_start_matches('0'));
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// The shards to open first and how: with `--shard`, that one; from a sequence number, the
/// shard that holds it; from `latest`, the open shards (older ones have nothing newer); else
/// the roots — shards none of whose parents is still listed — whose children follow in turn.
pub fn first_shards(shards: &[Shard], start: &Start, only: Option<&str>) -> Result<Vec<(String, Start)>, String> {
    if let Some(only) = only {
        if !shards.iter().any(|s| s.shard_id == only) {
            return Err(format!("the stream has no shard {only}"));
        }
        return Ok(vec![(only.to_owned(), start.clone())]);
    }
    let listed: HashSet<&str> = shards.iter().map(|s| s.shard_id.as_str()).collect();
    let picked: Vec<&Shard> = match start {
        Start::Latest => shards.iter().filter(|s| s.sequence_number_range.ending_sequence_number.is_none()).collect(),
        Start::Sequence(seq) => {
            let holder = shards.iter().find(|s| {
                let range = &s.sequence_number_range;
                sequence_cmp(&range.starting_sequence_number, seq).is_le()
                    && range.ending_sequence_number.as_deref().is_none_or(|end| sequence_cmp(seq, end).is_le())
            });
            let holder = holder.ok_or_else(|| format!("no shard of the stream holds sequence number {seq}"))?;
            vec![holder]
        }
        Start::TrimHorizon | Start::At(_) => shards
            .iter()
            .filter(|s| {
                [&s.parent_shard_id, &s.adjacent_parent_shard_id]
                    .into_iter()
                    .flatten()
                    .all(|parent| !listed.contains(parent.as_str()))
            })
            .collect(),
    };
    Ok(picked.into_iter().map(|s| (s.shard_id.clone(), start.clone())).collect())
}

/// Why following stopped early.
enum Stop {
    /// Whoever reads our output has gone (`kinesd tail … | head`): not an error.
    Pipe,
    Failed(String),
}

impl From<CallError> for Stop {
    fn from(e: CallError) -> Stop {
        Stop::Failed(e.to_string())
    }
}

struct Tail<W: Write> {
    client: Client,
    stream: StreamRef,
    format: Format,
    deaggregate: bool,
    /// Records still to print with `--max-records`.
    remaining: Option<u64>,
    /// Shards opened so far (finished or not).
    started: HashSet<String>,
    finished: HashSet<String>,
    /// Children announced by a finished parent, waiting for their other parent.
    waiting: Vec<ChildShard>,
    cursors: Vec<Cursor>,
    out: W,
}

impl<W: Write> Tail<W> {
    async fn open(&mut self, shard_id: String, start: Start) -> Result<(), String> {
        let iterator = self.iterator(&shard_id, &start, None).await.map_err(|e| e.to_string())?;
        self.started.insert(shard_id.clone());
        self.cursors.push(Cursor { shard_id, iterator, start, last_sequence: None });
        Ok(())
    }

    async fn iterator(&mut self, shard_id: &str, start: &Start, after: Option<&str>) -> Result<String, CallError> {
        let mut input = GetShardIteratorInput {
            stream: self.stream.clone(),
            shard_id: shard_id.to_owned(),
            shard_iterator_type: "TRIM_HORIZON",
            starting_sequence_number: None,
            timestamp: None,
        };
        match (after, start) {
            (Some(seq), _) => {
                input.shard_iterator_type = "AFTER_SEQUENCE_NUMBER";
                input.starting_sequence_number = Some(seq.to_owned());
            }
            (None, Start::TrimHorizon) => {}
            (None, Start::Latest) => input.shard_iterator_type = "LATEST",
            (None, Start::At(ms)) => {
                input.shard_iterator_type = "AT_TIMESTAMP";
                input.timestamp = Some(*ms as f64 / 1000.0);
            }
            (None, Start::Sequence(seq)) => {
                input.shard_iterator_type = "AT_SEQUENCE_NUMBER";
                input.starting_sequence_number = Some(seq.clone());
            }
        }
        let output: GetShardIteratorOutput = self.client.call("GetShardIterator", &input).await?;
        output.shard_iterator.ok_or_else(|| CallError::Api {
            status: 200,
            kind: "UnreadableResponse".into(),
            message: format!("GetShardIterator gave no iterator for {shard_id}"),
        })
    }

    /// Reads every followed shard in turn until `--max-records` or until every shard has ended
    /// with no child left to follow.
    async fn follow(&mut self, start: &Start) -> Result<(), Stop> {
        while !self.cursors.is_empty() {
            let mut printed_any = false;
            let mut i = 0;
            while i < self.cursors.len() {
                let iterator = self.cursors[i].iterator.clone();
                let input = GetRecordsInput { shard_iterator: iterator, limit: GET_LIMIT };
                let output: GetRecordsOutput = match self.client.call("GetRecords", &input).await {
                    Ok(output) => output,
                    Err(e) if e.kind() == Some("ExpiredIteratorException") => {
                        let cursor = &self.cursors[i];
                        let (shard, start, after) =
                            (cursor.shard_id.clone(), cursor.start.clone(), cursor.last_sequence.clone());
                        self.cursors[i].iterator = self.iterator(&shard, &start, after.as_deref()).await?;
                        continue;
                    }
                    Err(e) => return Err(e.into()),
                };
                let shard_id = self.cursors[i].shard_id.clone();
                for record in &output.records {
                    printed_any = true;
                    if self.print(&shard_id, record)? {
                        self.out.flush().map_err(|_| Stop::Pipe)?;
                        return Ok(());
                    }
                }
                self.out.flush().map_err(|_| Stop::Pipe)?;
                if let Some(last) = output.records.last() {
                    self.cursors[i].last_sequence = Some(last.sequence_number.clone());
                }
                match output.next_shard_iterator {
                    Some(next) => {
                        self.cursors[i].iterator = next;
                        i += 1;
                    }
                    None => {
                        self.cursors.remove(i);
                        self.finished.insert(shard_id.clone());
                        let children = match output.child_shards {
                            Some(children) if !children.is_empty() => children,
                            _ => self.children_of(&shard_id).await?,
                        };
                        for child in children {
                            if !self.started.contains(&child.shard_id)
                                && !self.waiting.iter().any(|w| w.shard_id == child.shard_id)
                            {
                                self.waiting.push(child);
                            }
                        }
                    }
                }
            }
            self.open_ready_children(start).await?;
            if !printed_any && !self.cursors.is_empty() {
                tokio::time::sleep(IDLE_POLL).await;
            }
        }
        Ok(())
    }

    /// Children whose parents, among the shards followed, have all been read to the end.
    async fn open_ready_children(&mut self, start: &Start) -> Result<(), Stop> {
        let (ready, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.waiting).into_iter().partition(|child| {
            child.parent_shards.iter().all(|p| self.finished.contains(p) || !self.started.contains(p))
        });
        self.waiting = waiting;
        for child in ready {
            self.open(child.shard_id, start.for_child()).await.map_err(Stop::Failed)?;
        }
        Ok(())
    }

    /// The children of a closed shard from the shard listing, for a server that does not
    /// send `ChildShards`.
    async fn children_of(&mut self, parent: &str) -> Result<Vec<ChildShard>, Stop> {
        let shards = list_shards(&mut self.client, &self.stream).await.map_err(Stop::Failed)?;
        Ok(shards
            .into_iter()
            .filter(|s| [&s.parent_shard_id, &s.adjacent_parent_shard_id].into_iter().flatten().any(|p| p == parent))
            .map(|s| ChildShard {
                parent_shards: [s.parent_shard_id, s.adjacent_parent_shard_id].into_iter().flatten().collect(),
                shard_id: s.shard_id,
            })
            .collect())
    }

    /// Prints `record` (its user records, when it is an aggregate); whether `--max-records`
    /// has been reached.
    fn print(&mut self, shard_id: &str, record: &Record) -> Result<bool, Stop> {
        let data = base64::engine::general_purpose::STANDARD
            .decode(&record.data)
            .map_err(|e| Stop::Failed(format!("record {} has data that is not base64: {e}", record.sequence_number)))?;
        let aggregated = if self.deaggregate { super::kpl::deaggregate(&data) } else { None };
        let shown: Vec<Shown<'_>> = match &aggregated {
            Some(users) => users
                .iter()
                .enumerate()
                .map(|(i, u)| Shown {
                    data: u.data,
                    partition_key: u.partition_key,
                    explicit_hash_key: u.explicit_hash_key,
                    sub_sequence: Some(i),
                })
                .collect(),
            None => vec![Shown {
                data: &data,
                partition_key: &record.partition_key,
                explicit_hash_key: None,
                sub_sequence: None,
            }],
        };
        for one in shown {
            self.write(shard_id, record, &one).map_err(|_| Stop::Pipe)?;
            if let Some(remaining) = &mut self.remaining {
                *remaining -= 1;
                if *remaining == 0 {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }

    fn write(&mut self, shard_id: &str, record: &Record, one: &Shown<'_>) -> std::io::Result<()> {
        match self.format {
            Format::Text => {
                self.out.write_all(one.data)?;
                self.out.write_all(b"\n")
            }
            Format::Hex => {
                self.out.write_all(hex::encode(one.data).as_bytes())?;
                self.out.write_all(b"\n")
            }
            Format::Json => {
                let mut line = serde_json::Map::new();
                line.insert("ShardId".into(), shard_id.into());
                line.insert("SequenceNumber".into(), record.sequence_number.as_str().into());
                if let Some(sub) = one.sub_sequence {
                    line.insert("SubSequenceNumber".into(), sub.into());
                }
                line.insert("PartitionKey".into(), one.partition_key.into());
                if let Some(key) = one.explicit_hash_key {
                    line.insert("ExplicitHashKey".into(), key.into());
                }
                if let Some(at) = record.approximate_arrival_timestamp {
                    let ms = (at * 1000.0).round() as i64;
                    line.insert("ApproximateArrivalTimestamp".into(), super::time::format_iso8601(ms).into());
                }
                line.insert("Data".into(), base64::engine::general_purpose::STANDARD.encode(one.data).into());
                if let Ok(text) = std::str::from_utf8(one.data) {
                    line.insert("Text".into(), text.into());
                }
                serde_json::to_writer(&mut self.out, &line)?;
                self.out.write_all(b"\n")
            }
        }
    }
}

/// One record as printed: a stored record, or one user record of an aggregate.
struct Shown<'a> {
    data: &'a [u8],
    partition_key: &'a str,
    explicit_hash_key: Option<&'a str>,
    /// Its index within the aggregate.
    sub_sequence: Option<usize>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shard(id: &str, parents: &[&str], start: &str, end: Option<&str>) -> Shard {
        Shard {
            shard_id: id.into(),
            parent_shard_id: parents.first().map(|p| p.to_string()),
            adjacent_parent_shard_id: parents.get(1).map(|p| p.to_string()),
            sequence_number_range: SequenceNumberRange {
                starting_sequence_number: start.into(),
                ending_sequence_number: end.map(Into::into),
            },
        }
    }

    #[test]
    fn from_takes_every_documented_form() {
        assert_eq!(Start::parse("trim-horizon").unwrap(), Start::TrimHorizon);
        assert_eq!(Start::parse("TRIM_HORIZON").unwrap(), Start::TrimHorizon);
        assert_eq!(Start::parse("latest").unwrap(), Start::Latest);
        assert!(matches!(Start::parse("2026-12-06T08:00:00Z").unwrap(), Start::At(_)));
        assert_eq!(Start::parse("4960").unwrap(), Start::Sequence("4960".into()));
        assert!(Start::parse("soon").is_err());
    }

    #[test]
    fn the_first_shards_are_the_roots_the_open_ones_or_the_holder() {
        // 0 split into 1 and 2; 1 and 2 merged into 3; 4 stands alone.
        let shards = vec![
            shard("s0", &[], "100", Some("199")),
            shard("s1", &["s0"], "200", Some("299")),
            shard("s2", &["s0"], "210", Some("300")),
            shard("s3", &["s1", "s2"], "400", None),
            shard("s4", &[], "100", None),
        ];
        let ids = |v: Vec<(String, Start)>| v.into_iter().map(|(id, _)| id).collect::<Vec<_>>();
        assert_eq!(ids(first_shards(&shards, &Start::TrimHorizon, None).unwrap()), ["s0", "s4"]);
        assert_eq!(ids(first_shards(&shards, &Start::Latest, None).unwrap()), ["s3", "s4"]);
        assert_eq!(ids(first_shards(&shards, &Start::Sequence("250".into()), None).unwrap()), ["s1"]);
        assert_eq!(ids(first_shards(&shards, &Start::Sequence("1000".into()), None).unwrap()), ["s3"]);
        assert!(first_shards(&shards, &Start::Sequence("5".into()), None).is_err());
        assert_eq!(ids(first_shards(&shards, &Start::Latest, Some("s1")).unwrap()), ["s1"]);
        assert!(first_shards(&shards, &Start::Latest, Some("s9")).is_err());
        // Once a parent has expired out of the listing, its children are roots.
        assert_eq!(ids(first_shards(&shards[1..], &Start::TrimHorizon, None).unwrap()), ["s1", "s2", "s4"]);
    }

    #[test]
    fn sequence_numbers_order_as_numbers() {
        assert!(sequence_cmp("99", "100").is_lt());
        assert!(sequence_cmp("0100", "100").is_eq());
        assert!(sequence_cmp("49655", "49654").is_gt());
    }
}
