//! PutRecords: up to 500 records and 10 MiB; results in request order, with per-record
//! failures counted in FailedRecordCount (0 on full success, as AWS answers).

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::api::Context;
use crate::api::common::{stream_key, written_encryption_type};
use crate::api::records::{explicit_hash_key, max_record_bytes};
use crate::engine::catalog::shard_id;
use crate::engine::records::{PutEntry, PutOutcome};
use crate::error::{KinesisError, Result};
use crate::protocol::encode::{Encode, Encoder};
use crate::protocol::model::PutRecordsInput;

/// The whole request, data and partition keys, may not exceed 10 MiB.
const MAX_REQUEST_BYTES: usize = 10 * 1024 * 1024;

pub async fn handle(ctx: &Context, input: PutRecordsInput) -> Result<PutRecordsReply> {
    let engine = &*ctx.engine;
    let name = stream_key(ctx, input.stream_name.as_deref(), input.stream_arn.as_deref()).await?;
    let records = input.records.unwrap_or_default();
    let total: usize = records
        .iter()
        .map(|r| r.data.as_ref().map_or(0, |d| d.len()) + r.partition_key.as_ref().map_or(0, |k| k.len()))
        .sum();
    if total > MAX_REQUEST_BYTES {
        return Err(KinesisError::records_too_large());
    }
    let stream = engine.stream(&name).await?;
    // Every oversized record is named in one ValidationException of the whole request (AWS's
    // answer, awslabs/amazon-kinesis-producer#680); per-record results carry only throughput
    // and internal failures. Like the model's checks it comes before the ExplicitHashKey check.
    let limit = max_record_bytes(&stream);
    let oversized: Vec<String> = records
        .iter()
        .enumerate()
        .filter(|(_, r)| {
            r.data.as_ref().map_or(0, |d| d.len()) + r.partition_key.as_ref().map_or(0, |k| k.len()) > limit
        })
        .map(|(i, _)| format!("records.{}.member.data", i + 1))
        .collect();
    if !oversized.is_empty() {
        return Err(KinesisError::records_over_size_limit(oversized.iter().map(String::as_str), limit));
    }
    let mut entries = Vec::with_capacity(records.len());
    for r in records {
        let partition_key = r.partition_key.unwrap_or_default();
        let data = r.data.unwrap_or_default();
        let explicit = explicit_hash_key(r.explicit_hash_key.as_deref())?;
        entries.push(PutEntry { partition_key, data, explicit_hash_key: explicit });
    }
    // Per-record fault rules (`--faults`): a record drawn to fail is not written.
    let record_faults = ctx.faults.records(&name.name);
    let injected = AtomicUsize::new(0);
    let fault = |shard: u32| {
        let fault = record_faults.as_ref()?.decide(shard);
        injected.fetch_add(usize::from(fault.is_some()), Ordering::Relaxed);
        fault
    };
    let (stream, outcomes) = engine.put_records_with(&name, entries, &fault).await?;
    // When storage refuses every record (a full disk, an I/O error) the request fails as a
    // whole, as AWS fails requests on an internal error; partial failures stay per record, and
    // so do failures a fault rule asked for.
    if injected.load(Ordering::Relaxed) == 0
        && outcomes.iter().all(|o| matches!(o, PutOutcome::Failed { code: "InternalFailure", .. }))
    {
        return Err(KinesisError::internal_failure());
    }
    let failed = outcomes.iter().filter(|o| matches!(o, PutOutcome::Failed { .. })).count() as i64;
    Ok(PutRecordsReply { failed, outcomes, encryption_type: written_encryption_type(&stream) })
}

/// The PutRecords response, written straight from the outcomes: the same document as the
/// model's `PutRecordsOutput` (members in its order), without a String per sequence number
/// and shard id on the hottest path.
pub struct PutRecordsReply {
    failed: i64,
    outcomes: Vec<PutOutcome>,
    encryption_type: Option<String>,
}

impl Encode for PutRecordsReply {
    fn encode<E: Encoder>(&self, e: &mut E) {
        let mut sequence = String::with_capacity(64);
        // Shard ids, formatted once per shard rather than once per record.
        let mut shard_ids: Vec<(u32, String)> = Vec::new();
        e.begin_struct();
        e.field("FailedRecordCount");
        e.int(self.failed);
        e.field("Records");
        e.begin_list(self.outcomes.len());
        for o in &self.outcomes {
            e.begin_struct();
            match o {
                PutOutcome::Stored { shard_index, sequence_number } => {
                    sequence.clear();
                    sequence_number.write_decimal(&mut sequence);
                    let id = match shard_ids.iter().position(|(i, _)| i == shard_index) {
                        Some(k) => k,
                        None => {
                            shard_ids.push((*shard_index, shard_id(*shard_index)));
                            shard_ids.len() - 1
                        }
                    };
                    e.field("SequenceNumber");
                    e.string(&sequence);
                    e.field("ShardId");
                    e.string(&shard_ids[id].1);
                }
                PutOutcome::Failed { code, message } => {
                    e.field("ErrorCode");
                    e.string(code);
                    e.field("ErrorMessage");
                    e.string(message);
                }
            }
            e.end_struct();
        }
        e.end_list();
        if let Some(encryption) = &self.encryption_type {
            e.field("EncryptionType");
            e.string(encryption);
        }
        e.end_struct();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::sequence::SequenceNumber;
    use crate::protocol::Codec;
    use crate::protocol::model::{PutRecordsOutput, PutRecordsResultEntry};

    #[test]
    fn the_reply_is_the_model_document() {
        let seq = SequenceNumber {
            shard_created_secs: 1_700_000_000,
            shard_index: 3,
            position: 9,
            arrival_secs: 1_700_000_001,
        };
        let outcomes = || {
            vec![
                PutOutcome::Stored { shard_index: 3, sequence_number: seq },
                PutOutcome::Failed { code: "InternalFailure", message: "Internal service failure.".into() },
            ]
        };
        let model = PutRecordsOutput {
            failed_record_count: Some(1),
            records: vec![
                PutRecordsResultEntry {
                    sequence_number: Some(seq.to_string()),
                    shard_id: Some(shard_id(3)),
                    error_code: None,
                    error_message: None,
                },
                PutRecordsResultEntry {
                    sequence_number: None,
                    shard_id: None,
                    error_code: Some("InternalFailure".into()),
                    error_message: Some("Internal service failure.".into()),
                },
            ],
            encryption_type: Some("KMS".into()),
        };
        let reply = PutRecordsReply { failed: 1, outcomes: outcomes(), encryption_type: Some("KMS".into()) };
        for codec in [Codec::Json, Codec::Cbor] {
            assert_eq!(codec.encode(&reply, 64), codec.encode(&model, 64), "{codec:?}");
        }
        let unencrypted = PutRecordsOutput { encryption_type: None, ..model };
        let reply = PutRecordsReply { failed: 1, outcomes: outcomes(), encryption_type: None };
        for codec in [Codec::Json, Codec::Cbor] {
            assert_eq!(codec.encode(&reply, 64), codec.encode(&unencrypted, 64), "{codec:?}");
        }
    }
}
