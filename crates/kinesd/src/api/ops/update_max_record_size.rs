//! UpdateMaxRecordSize: the largest record (data plus partition key) PutRecord and PutRecords
//! accept from now on, 1024 to 10240 KiB. Streams are named by ARN only.

use crate::api::Context;
use crate::api::common::stream_key;
use crate::error::Result;
use crate::protocol::model::UpdateMaxRecordSizeInput;

pub async fn handle(ctx: &Context, input: UpdateMaxRecordSizeInput) -> Result<()> {
    let engine = &*ctx.engine;
    let name = stream_key(ctx, None, input.stream_arn.as_deref()).await?;
    // The model bounds MaxRecordSizeInKiB to 1024..=10240 and requires it.
    let kib = input.max_record_size_in_kib.unwrap_or(1024).clamp(1024, 10240) as u32;
    engine.update_max_record_size(&name, kib).await
}
