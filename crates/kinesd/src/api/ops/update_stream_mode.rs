//! UpdateStreamMode: PROVISIONED <-> ON_DEMAND through UPDATING. Streams are named by ARN only.

use crate::api::Context;
use crate::api::common::stream_key;
use crate::engine::catalog::StreamMode;
use crate::error::Result;
use crate::protocol::model::{StreamMode as WireMode, UpdateStreamModeInput};

pub async fn handle(ctx: &Context, input: UpdateStreamModeInput) -> Result<()> {
    let engine = &*ctx.engine;
    let name = stream_key(ctx, None, input.stream_arn.as_deref()).await?;
    // The model requires StreamModeDetails and checks StreamMode against its enum.
    let mode = match input.stream_mode_details.as_ref().and_then(|d| d.stream_mode.as_deref()).and_then(WireMode::parse)
    {
        Some(WireMode::OnDemand) => StreamMode::OnDemand,
        _ => StreamMode::Provisioned,
    };
    engine.update_stream_mode(&name, mode, input.warm_throughput_mibps).await
}
