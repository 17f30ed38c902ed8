//! The few Kinesis shapes the subcommands send and read, as awsJson 1.1 writes them. The
//! server's model (`protocol::model`) decodes inputs and encodes outputs — the other direction —
//! so the client keeps its own, limited to the members it uses; unknown members are ignored, as
//! the SDKs ignore them.

use serde::{Deserialize, Serialize};

/// A stream named by name, or by ARN when the argument is one.
#[derive(Debug, Clone, Serialize)]
pub struct StreamRef {
    #[serde(rename = "StreamName", skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(rename = "StreamARN", skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
}

impl StreamRef {
    pub fn parse(stream: &str) -> StreamRef {
        if stream.starts_with("arn:") {
            StreamRef { name: None, arn: Some(stream.to_owned()) }
        } else {
            StreamRef { name: Some(stream.to_owned()), arn: None }
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListShardsInput {
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub stream: Option<StreamRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListShardsOutput {
    #[serde(default)]
    pub shards: Vec<Shard>,
    pub next_token: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Shard {
    pub shard_id: String,
    pub parent_shard_id: Option<String>,
    pub adjacent_parent_shard_id: Option<String>,
    pub sequence_number_range: SequenceNumberRange,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SequenceNumberRange {
    pub starting_sequence_number: String,
    pub ending_sequence_number: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetShardIteratorInput {
    #[serde(flatten)]
    pub stream: StreamRef,
    pub shard_id: String,
    pub shard_iterator_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub starting_sequence_number: Option<String>,
    /// Seconds since the epoch, with milliseconds as the fraction (awsJson's timestamps).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetShardIteratorOutput {
    pub shard_iterator: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetRecordsInput {
    pub shard_iterator: String,
    pub limit: u32,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetRecordsOutput {
    #[serde(default)]
    pub records: Vec<Record>,
    pub next_shard_iterator: Option<String>,
    pub child_shards: Option<Vec<ChildShard>>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Record {
    pub sequence_number: String,
    pub approximate_arrival_timestamp: Option<f64>,
    /// Base64, as awsJson carries blobs.
    pub data: String,
    pub partition_key: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChildShard {
    pub shard_id: String,
    pub parent_shards: Vec<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutRecordsInput<'a> {
    #[serde(flatten)]
    pub stream: &'a StreamRef,
    pub records: &'a [PutRecordsEntry],
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutRecordsEntry {
    /// Base64 of the record's bytes.
    pub data: String,
    pub partition_key: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutRecordsOutput {
    #[serde(default)]
    pub failed_record_count: u64,
    pub records: Vec<PutRecordsResult>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutRecordsResult {
    pub sequence_number: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
}
