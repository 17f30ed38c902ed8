//! PutRecords: up to 500 records and 10 MiB; results in request order, with per-record
//! failures counted in FailedRecordCount (0 on full success, as AWS answers).

use crate::api::common::{encryption_type, stream_name};
use crate::api::model::{PutRecordsInput, PutRecordsOutput, PutRecordsResultEntry};
use crate::api::records::{check_record_size, explicit_hash_key};
use crate::engine::Engine;
use crate::engine::catalog::shard_id;
use crate::engine::records::{PutEntry, PutOutcome};
use crate::error::{KinesisError, Result};

/// The whole request, data and partition keys, may not exceed 10 MiB.
const MAX_REQUEST_BYTES: usize = 10 * 1024 * 1024;

pub async fn handle(engine: &Engine, input: PutRecordsInput) -> Result<PutRecordsOutput> {
    let name = stream_name(engine, input.stream_name.as_deref(), input.stream_arn.as_deref())?;
    let records = input.records.unwrap_or_default();
    let total: usize = records
        .iter()
        .map(|r| r.data.as_ref().map_or(0, |d| d.len()) + r.partition_key.as_ref().map_or(0, |k| k.len()))
        .sum();
    if total > MAX_REQUEST_BYTES {
        return Err(KinesisError::InvalidArgument("Records size exceeds 10 MB limit".into()));
    }
    let stream = engine.stream(&name).await?;
    let mut entries = Vec::with_capacity(records.len());
    for r in records {
        let partition_key = r.partition_key.unwrap_or_default();
        let data = r.data.unwrap_or_default();
        check_record_size(&stream, &partition_key, &data)?;
        let explicit = explicit_hash_key(r.explicit_hash_key.as_deref())?;
        entries.push(PutEntry { partition_key, data, explicit_hash_key: explicit });
    }
    let (stream, outcomes) = engine.put_records(&name, entries).await?;
    // When storage refuses every record (a full disk, an I/O error) the request fails as a
    // whole, as AWS fails requests on an internal error; partial failures stay per record.
    if outcomes.iter().all(|o| matches!(o, PutOutcome::Failed { code: "InternalFailure", .. })) {
        return Err(KinesisError::InternalFailure("Internal service failure.".into()));
    }
    let mut failed = 0;
    let mut buf = String::with_capacity(64);
    let results = outcomes
        .into_iter()
        .map(|o| match o {
            PutOutcome::Stored { shard_index, sequence_number } => {
                buf.clear();
                sequence_number.write_decimal(&mut buf);
                PutRecordsResultEntry {
                    sequence_number: Some(buf.clone()),
                    shard_id: Some(shard_id(shard_index)),
                    error_code: None,
                    error_message: None,
                }
            }
            PutOutcome::Failed { code, message } => {
                failed += 1;
                PutRecordsResultEntry {
                    sequence_number: None,
                    shard_id: None,
                    error_code: Some(code.to_owned()),
                    error_message: Some(message),
                }
            }
        })
        .collect();
    Ok(PutRecordsOutput {
        failed_record_count: Some(failed),
        records: results,
        encryption_type: Some(encryption_type(&stream)),
    })
}
