//! DecreaseStreamRetentionPeriod: 24 to 8760 hours, and the new period must not be
//! longer than the current one.

use crate::api::Context;
use crate::api::common::stream_key;
use crate::engine::settings::RetentionChange;
use crate::error::Result;
use crate::protocol::model::DecreaseStreamRetentionPeriodInput;

pub async fn handle(ctx: &Context, input: DecreaseStreamRetentionPeriodInput) -> Result<()> {
    let engine = &*ctx.engine;
    let name = stream_key(ctx, input.stream_name.as_deref(), input.stream_arn.as_deref()).await?;
    let hours = input.retention_period_hours.unwrap_or_default();
    engine.change_retention(&name, RetentionChange::Decrease, hours).await
}
