//! DeleteStream: the stream goes DELETING, then disappears with its records.

use crate::api::Context;
use crate::api::common::stream_key;
use crate::error::Result;
use crate::protocol::model::DeleteStreamInput;

pub async fn handle(ctx: &Context, input: DeleteStreamInput) -> Result<()> {
    let engine = &*ctx.engine;
    // EnforceConsumerDeletion only matters once consumers exist; none can be registered yet.
    let name = stream_key(ctx, input.stream_name.as_deref(), input.stream_arn.as_deref()).await?;
    engine.delete_stream(&name).await
}
