//! PutRecord: one record, routed by MD5(PartitionKey) or ExplicitHashKey.

use crate::api::Context;
use crate::api::common::{stream_key, written_encryption_type};
use crate::api::records::{explicit_hash_key, max_record_bytes};
use crate::engine::catalog::shard_id;
use crate::engine::claim::{Claim, Version};
use crate::engine::records::{PutEntry, PutOutcome};
use crate::error::{KinesisError, Result};
use crate::protocol::model::{PutRecordInput, PutRecordOutput};

pub async fn handle(ctx: &Context, input: PutRecordInput) -> Result<PutRecordOutput> {
    let engine = &*ctx.engine;
    let name = stream_key(ctx, input.stream_name.as_deref(), input.stream_arn.as_deref()).await?;
    let partition_key = input.partition_key.unwrap_or_default();
    let data = input.data.unwrap_or_default();
    let explicit = explicit_hash_key(input.explicit_hash_key.as_deref())?;
    // AWS only checks that the number decodes in a layout it issues and does not arrive from the
    // future; records of a shard get increasing sequence numbers anyway, which is the ordering
    // it promises. A version 3 number decodes but is not one AWS (or kinesd) issues.
    if let Some(s) = input.sequence_number_for_ordering.as_deref() {
        match Claim::decode(s) {
            Ok(c)
                if c.version != Version::V3
                    && c.arrival_secs.is_none_or(|t| t.saturating_mul(1000) <= crate::engine::now_ms()) => {}
            _ => {
                return Err(KinesisError::ordering_sequence_number_invalid(s, &name.name, &name.account));
            }
        }
    }
    let stream = engine.stream(&name).await?;
    let limit = max_record_bytes(&stream);
    if data.len() + partition_key.len() > limit {
        return Err(KinesisError::records_over_size_limit(["data"], limit));
    }
    let (stream, mut outcomes) =
        engine.put_records(&name, vec![PutEntry { partition_key, data, explicit_hash_key: explicit }]).await?;
    match outcomes.pop() {
        Some(PutOutcome::Stored { shard_index, sequence_number }) => Ok(PutRecordOutput {
            shard_id: shard_id(shard_index),
            sequence_number: sequence_number.to_string(),
            encryption_type: written_encryption_type(&stream),
        }),
        Some(PutOutcome::Failed { code, message }) => Err(KinesisError::put_record_failed(code, message)),
        None => Err(KinesisError::internal_failure()),
    }
}
