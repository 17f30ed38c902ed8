//! PutRecord: one record, routed by MD5(PartitionKey) or ExplicitHashKey.

use crate::api::common::{encryption_type, stream_name};
use crate::api::model::{PutRecordInput, PutRecordOutput};
use crate::api::records::{check_record_size, explicit_hash_key};
use crate::engine::Engine;
use crate::engine::catalog::shard_id;
use crate::engine::records::{PutEntry, PutOutcome};
use crate::engine::sequence::SequenceNumber;
use crate::error::{KinesisError, Result};

pub async fn handle(engine: &Engine, input: PutRecordInput) -> Result<PutRecordOutput> {
    let name = stream_name(engine, input.stream_name.as_deref(), input.stream_arn.as_deref())?;
    let partition_key = input.partition_key.unwrap_or_default();
    let data = input.data.unwrap_or_default();
    let explicit = explicit_hash_key(input.explicit_hash_key.as_deref())?;
    if let Some(s) = input.sequence_number_for_ordering.as_deref()
        && SequenceNumber::parse(s).is_err()
    {
        return Err(KinesisError::InvalidArgument(format!(
            "ExclusiveMinimumSequenceNumber {s} used in PutRecord on stream {name} under account {} is invalid.",
            engine.config.account_id
        )));
    }
    let stream = engine.stream(&name).await?;
    check_record_size(&stream, &partition_key, &data)?;
    let (stream, mut outcomes) =
        engine.put_records(&name, vec![PutEntry { partition_key, data, explicit_hash_key: explicit }]).await?;
    match outcomes.pop() {
        Some(PutOutcome::Stored { shard_index, sequence_number }) => Ok(PutRecordOutput {
            shard_id: shard_id(shard_index),
            sequence_number: sequence_number.to_string(),
            encryption_type: Some(encryption_type(&stream)),
        }),
        Some(PutOutcome::Failed { message, .. }) => Err(KinesisError::InternalFailure(message)),
        None => Err(KinesisError::InternalFailure("Internal service failure.".into())),
    }
}
