//! Streams declared at start: `[[stream]]` tables in the config file and the `--streams`
//! shorthand (`KINESD_STREAMS="orders:4,events:on-demand"`). Whatever is missing is created
//! before the server takes its first request, and waited for until ACTIVE, so a test suite or
//! a container can use its streams at once.
//!
//! Applying a declaration is idempotent: an existing stream keeps its shards and data; only a
//! declared setting that differs (retention, maximum record size, a tag's value, a missing
//! consumer) is changed, so a restart with the same declaration changes nothing. Its shard count
//! or capacity mode is never changed by a restart — resharding is the operator's decision — and
//! a difference is logged. Everything goes through the Kinesis operations themselves
//! ([`Api::call_local`]), as the configured account, with their checks and errors.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::Api;
use crate::error::KinesisError;
use crate::protocol::model::Operation;

/// How long a declared stream or consumer may take to become ACTIVE before the start fails.
const ACTIVE_WITHIN: Duration = Duration::from_secs(120);
/// Pause between two looks at a stream that is not ACTIVE yet (requests apply due
/// transitions, so each look makes progress).
const POLL: Duration = Duration::from_millis(10);

/// How a declared stream's capacity is provisioned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capacity {
    Shards(u32),
    OnDemand,
}

/// One stream the configuration asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamDeclaration {
    pub name: String,
    pub capacity: Capacity,
    pub retention_hours: Option<u32>,
    pub max_record_size_kib: Option<u32>,
    pub tags: BTreeMap<String, String>,
    /// Enhanced fan-out consumers to register.
    pub consumers: Vec<String>,
}

/// A `[[stream]]` table as written in the file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct StreamTable {
    name: String,
    shards: Option<u32>,
    /// `provisioned` (the default, with `shards`) or `on-demand`.
    mode: Option<String>,
    retention_hours: Option<u32>,
    max_record_size_kib: Option<u32>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
    #[serde(default)]
    consumers: Vec<String>,
}

impl StreamDeclaration {
    /// The `--streams` shorthand: comma-separated `name`, `name:<shards>` or `name:on-demand`
    /// (a name alone is one shard).
    pub fn parse_shorthand(text: &str) -> Result<Vec<StreamDeclaration>, String> {
        let mut out = Vec::new();
        for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (name, capacity) = match item.split_once(':') {
                None => (item, Capacity::Shards(1)),
                Some((name, "on-demand" | "ON_DEMAND" | "on_demand")) => (name.trim(), Capacity::OnDemand),
                Some((name, shards)) => match shards.trim().parse::<u32>() {
                    Ok(n) => (name.trim(), Capacity::Shards(n)),
                    Err(_) => {
                        return Err(format!("--streams: {item:?} is not name, name:<shard count> or name:on-demand"));
                    }
                },
            };
            let declaration = StreamDeclaration {
                name: name.to_owned(),
                capacity,
                retention_hours: None,
                max_record_size_kib: None,
                tags: BTreeMap::new(),
                consumers: Vec::new(),
            };
            declaration.check().map_err(|why| format!("--streams: {why}"))?;
            out.push(declaration);
        }
        Ok(out)
    }

    /// The `[[stream]]` tables of a config file's `stream` key.
    pub fn from_file_value(value: toml::Value, path: &Path) -> Result<Vec<StreamDeclaration>, String> {
        let invalid = |why: String| format!("invalid {}: [[stream]]: {why}", path.display());
        let tables: Vec<StreamTable> =
            value.try_into().map_err(|e: toml::de::Error| invalid(e.message().to_owned()))?;
        let mut out = Vec::with_capacity(tables.len());
        for table in tables {
            let capacity = match (table.mode.as_deref(), table.shards) {
                (Some("on-demand"), None) => Capacity::OnDemand,
                (Some("on-demand"), Some(_)) => {
                    return Err(invalid(format!("stream {:?}: an on-demand stream takes no `shards`", table.name)));
                }
                (None | Some("provisioned"), Some(n)) => Capacity::Shards(n),
                (None | Some("provisioned"), None) => {
                    return Err(invalid(format!(
                        "stream {:?} needs `shards = <count>` or `mode = \"on-demand\"`",
                        table.name
                    )));
                }
                (Some(other), _) => {
                    return Err(invalid(format!(
                        "stream {:?}: mode {other:?} is neither \"provisioned\" nor \"on-demand\"",
                        table.name
                    )));
                }
            };
            let declaration = StreamDeclaration {
                name: table.name,
                capacity,
                retention_hours: table.retention_hours,
                max_record_size_kib: table.max_record_size_kib,
                tags: table.tags,
                consumers: table.consumers,
            };
            declaration.check().map_err(invalid)?;
            out.push(declaration);
        }
        Ok(out)
    }

    /// The bounds CreateStream and the setting operations would enforce, checked at start so
    /// that a bad declaration is reported against the configuration rather than as an API error.
    fn check(&self) -> Result<(), String> {
        let name = &self.name;
        let valid_name = |s: &str| {
            (1..=128).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
        };
        if !valid_name(name) {
            return Err(format!("{name:?} is not a stream name (1 to 128 of a-z, A-Z, 0-9, _ . -)"));
        }
        if let Capacity::Shards(n) = self.capacity
            && n == 0
        {
            return Err(format!("stream {name:?} needs at least one shard"));
        }
        if let Some(h) = self.retention_hours
            && !(24..=8760).contains(&h)
        {
            return Err(format!("stream {name:?}: retention-hours must be between 24 and 8760, not {h}"));
        }
        if let Some(kib) = self.max_record_size_kib
            && !(1024..=10240).contains(&kib)
        {
            return Err(format!("stream {name:?}: max-record-size-kib must be between 1024 and 10240, not {kib}"));
        }
        if self.tags.len() > 50 {
            return Err(format!("stream {name:?}: at most 50 tags"));
        }
        for consumer in &self.consumers {
            if !valid_name(consumer) {
                return Err(format!("stream {name:?}: {consumer:?} is not a consumer name"));
            }
        }
        Ok(())
    }
}

/// The declarations of the file and of the shorthand together; a stream declared twice is an
/// error, since which one wins would be a guess.
pub fn merge(
    tables: Vec<StreamDeclaration>,
    shorthand: Vec<StreamDeclaration>,
) -> Result<Vec<StreamDeclaration>, String> {
    let mut all = tables;
    for declaration in shorthand {
        all.push(declaration);
    }
    let mut seen = std::collections::HashSet::new();
    for declaration in &all {
        if !seen.insert(declaration.name.as_str()) {
            return Err(format!("stream {:?} is declared twice", declaration.name));
        }
    }
    Ok(all)
}

/// Creates what is missing and changes what differs, then waits until every declared stream
/// and consumer is ACTIVE.
pub async fn apply(api: &Api, declarations: &[StreamDeclaration]) -> Result<(), String> {
    let failed = |name: &str, e: String| format!("declared stream {name:?}: {e}");
    // Creations first, all of them, so that their CREATING phases overlap.
    let mut created = Vec::new();
    for d in declarations {
        if create_if_missing(api, d).await.map_err(|e| failed(&d.name, e))? {
            created.push(d.name.as_str());
        }
    }
    for d in declarations {
        let summary = wait_active(api, &d.name).await.map_err(|e| failed(&d.name, e))?;
        reconcile(api, d, &summary).await.map_err(|e| failed(&d.name, e))?;
    }
    if !declarations.is_empty() {
        tracing::info!(declared = declarations.len(), created = ?created, "declared streams are ACTIVE");
    }
    Ok(())
}

/// Whether the stream had to be created.
async fn create_if_missing(api: &Api, d: &StreamDeclaration) -> Result<bool, String> {
    let deadline = Instant::now() + ACTIVE_WITHIN;
    loop {
        match api.call_local(Operation::DescribeStreamSummary, json!({ "StreamName": d.name })).await {
            Ok(summary) if summary["StreamDescriptionSummary"]["StreamStatus"] == "DELETING" => {}
            Ok(_) => return Ok(false),
            Err(KinesisError::ResourceNotFound(_)) => {
                let mut input = json!({ "StreamName": d.name });
                match d.capacity {
                    Capacity::Shards(n) => input["ShardCount"] = n.into(),
                    Capacity::OnDemand => input["StreamModeDetails"] = json!({ "StreamMode": "ON_DEMAND" }),
                }
                if !d.tags.is_empty() {
                    input["Tags"] = json!(d.tags);
                }
                if let Some(kib) = d.max_record_size_kib {
                    input["MaxRecordSizeInKiB"] = kib.into();
                }
                match api.call_local(Operation::CreateStream, input).await {
                    Ok(_) => return Ok(true),
                    // Too many streams CREATING at once (AWS's message says so; a shard limit
                    // is final): wait for the earlier ones.
                    Err(KinesisError::LimitExceeded(message))
                        if message.contains("CREATING or DELETING") && Instant::now() < deadline => {}
                    Err(e) => return Err(described(&e)),
                }
            }
            Err(e) => return Err(described(&e)),
        }
        if Instant::now() >= deadline {
            return Err(format!("still DELETING after {} s", ACTIVE_WITHIN.as_secs()));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// The stream's summary once it is ACTIVE.
async fn wait_active(api: &Api, name: &str) -> Result<Value, String> {
    let deadline = Instant::now() + ACTIVE_WITHIN;
    loop {
        let summary = call(api, Operation::DescribeStreamSummary, json!({ "StreamName": name })).await?;
        let summary = summary["StreamDescriptionSummary"].clone();
        if summary["StreamStatus"] == "ACTIVE" {
            return Ok(summary);
        }
        if Instant::now() >= deadline {
            return Err(format!("not ACTIVE after {} s", ACTIVE_WITHIN.as_secs()));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Brings an ACTIVE stream's declared settings, tags and consumers to what is declared.
async fn reconcile(api: &Api, d: &StreamDeclaration, summary: &Value) -> Result<(), String> {
    let name = d.name.as_str();
    let on_demand = summary["StreamModeDetails"]["StreamMode"] == "ON_DEMAND";
    match d.capacity {
        Capacity::OnDemand if !on_demand => {
            tracing::warn!(stream = name, "declared on-demand but provisioned; left as it is");
        }
        Capacity::Shards(n) if on_demand || summary["OpenShardCount"].as_u64() != Some(u64::from(n)) => {
            tracing::warn!(
                stream = name, declared = n, open = %summary["OpenShardCount"], on_demand,
                "declared shard count differs; left as it is (resharding is for UpdateShardCount)"
            );
        }
        _ => {}
    }
    let mut summary = summary.clone();
    if let Some(hours) = d.retention_hours {
        let current = summary["RetentionPeriodHours"].as_u64().unwrap_or(24);
        if current != u64::from(hours) {
            let operation = if u64::from(hours) > current {
                Operation::IncreaseStreamRetentionPeriod
            } else {
                Operation::DecreaseStreamRetentionPeriod
            };
            call(api, operation, json!({ "StreamName": name, "RetentionPeriodHours": hours })).await?;
            summary = wait_active(api, name).await?;
            tracing::info!(stream = name, hours, "retention set as declared");
        }
    }
    if let Some(kib) = d.max_record_size_kib
        && summary["MaxRecordSizeInKiB"].as_u64().unwrap_or(1024) != u64::from(kib)
    {
        let arn = summary["StreamARN"].clone();
        call(api, Operation::UpdateMaxRecordSize, json!({ "StreamARN": arn, "MaxRecordSizeInKiB": kib })).await?;
        summary = wait_active(api, name).await?;
        tracing::info!(stream = name, kib, "maximum record size set as declared");
    }
    if !d.tags.is_empty() {
        let listed = call(api, Operation::ListTagsForStream, json!({ "StreamName": name })).await?;
        let current: BTreeMap<&str, &str> = listed["Tags"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| Some((t["Key"].as_str()?, t["Value"].as_str().unwrap_or(""))))
            .collect();
        let changed: Vec<(&String, &String)> =
            d.tags.iter().filter(|(k, v)| current.get(k.as_str()) != Some(&v.as_str())).collect();
        // AddTagsToStream takes ten tags a call.
        for chunk in changed.chunks(10) {
            let tags: BTreeMap<&String, &String> = chunk.iter().copied().collect();
            call(api, Operation::AddTagsToStream, json!({ "StreamName": name, "Tags": tags })).await?;
        }
    }
    if !d.consumers.is_empty() {
        let arn = summary["StreamARN"].clone();
        let listed = call(api, Operation::ListStreamConsumers, json!({ "StreamARN": arn })).await?;
        let existing: Vec<&str> =
            listed["Consumers"].as_array().into_iter().flatten().filter_map(|c| c["ConsumerName"].as_str()).collect();
        for consumer in &d.consumers {
            if !existing.contains(&consumer.as_str()) {
                call(api, Operation::RegisterStreamConsumer, json!({ "StreamARN": arn, "ConsumerName": consumer }))
                    .await?;
            }
        }
        for consumer in &d.consumers {
            wait_consumer_active(api, &arn, consumer).await?;
        }
    }
    Ok(())
}

/// An operation's reply, or its error as `Type: message`.
async fn call(api: &Api, operation: Operation, input: Value) -> Result<Value, String> {
    api.call_local(operation, input).await.map_err(|e| described(&e))
}

fn described(e: &KinesisError) -> String {
    format!("{}: {e}", e.type_name())
}

async fn wait_consumer_active(api: &Api, stream_arn: &Value, consumer: &str) -> Result<(), String> {
    let deadline = Instant::now() + ACTIVE_WITHIN;
    loop {
        let input = json!({ "StreamARN": stream_arn, "ConsumerName": consumer });
        let described = call(api, Operation::DescribeStreamConsumer, input).await?;
        if described["ConsumerDescription"]["ConsumerStatus"] == "ACTIVE" {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(format!("consumer {consumer:?} not ACTIVE after {} s", ACTIVE_WITHIN.as_secs()));
        }
        tokio::time::sleep(POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shorthand_names_shards_or_on_demand() {
        let d = StreamDeclaration::parse_shorthand("orders:4, events:on-demand,logs").unwrap();
        let got: Vec<_> = d.iter().map(|d| (d.name.as_str(), d.capacity)).collect();
        assert_eq!(
            got,
            [("orders", Capacity::Shards(4)), ("events", Capacity::OnDemand), ("logs", Capacity::Shards(1))]
        );
        assert!(StreamDeclaration::parse_shorthand("").unwrap().is_empty());
        for bad in ["orders:four", "orders:0", "bad name:1", ":3"] {
            assert!(StreamDeclaration::parse_shorthand(bad).is_err(), "{bad}");
        }
    }

    fn tables(text: &str) -> Result<Vec<StreamDeclaration>, String> {
        let mut table: toml::Table = text.parse().unwrap();
        StreamDeclaration::from_file_value(table.remove("stream").unwrap(), Path::new("k.toml"))
    }

    #[test]
    fn tables_give_every_setting() {
        let d = tables(
            r#"
            [[stream]]
            name = "orders"
            shards = 3
            retention-hours = 48
            max-record-size-kib = 2048
            tags = { team = "payments" }
            consumers = ["billing", "audit"]

            [[stream]]
            name = "events"
            mode = "on-demand"
            "#,
        )
        .unwrap();
        assert_eq!(d[0].capacity, Capacity::Shards(3));
        assert_eq!((d[0].retention_hours, d[0].max_record_size_kib), (Some(48), Some(2048)));
        assert_eq!(d[0].tags["team"], "payments");
        assert_eq!(d[0].consumers, ["billing", "audit"]);
        assert_eq!(d[1].capacity, Capacity::OnDemand);
    }

    #[test]
    fn bad_tables_are_reported_against_the_file() {
        for (text, expected) in [
            ("[[stream]]\nname = \"a\"\n", "needs `shards"),
            ("[[stream]]\nname = \"a\"\nshards = 1\nbogus = 2\n", "unknown field `bogus`"),
            ("[[stream]]\nname = \"a\"\nmode = \"on-demand\"\nshards = 2\n", "takes no `shards`"),
            ("[[stream]]\nname = \"a\"\nmode = \"fast\"\n", "neither"),
            ("[[stream]]\nname = \"a\"\nshards = 1\nretention-hours = 2\n", "between 24 and 8760"),
            ("[[stream]]\nname = \"a\"\nshards = 1\nmax-record-size-kib = 20000\n", "between 1024 and 10240"),
            ("[[stream]]\nshards = 1\n", "missing field `name`"),
        ] {
            let e = tables(text).unwrap_err();
            assert!(e.contains("k.toml") && e.contains(expected), "{text}: {e}");
        }
    }

    #[test]
    fn a_stream_declared_twice_is_an_error() {
        let a = StreamDeclaration::parse_shorthand("a:1").unwrap();
        let b = StreamDeclaration::parse_shorthand("a:2,b").unwrap();
        assert!(merge(a.clone(), b).unwrap_err().contains("declared twice"));
        assert_eq!(merge(a, Vec::new()).unwrap().len(), 1);
    }
}
