//! DeleteStream: the stream goes DELETING, then disappears with its records. A stream with
//! registered consumers is deleted only with EnforceConsumerDeletion, which deregisters them.

use crate::api::Context;
use crate::api::common::stream_key;
use crate::error::Result;
use crate::protocol::model::DeleteStreamInput;

pub async fn handle(ctx: &Context, input: DeleteStreamInput) -> Result<()> {
    let engine = &*ctx.engine;
    let name = stream_key(ctx, input.stream_name.as_deref(), input.stream_arn.as_deref()).await?;
    engine.delete_stream_and_consumers(&name, input.enforce_consumer_deletion.unwrap_or(false)).await?;
    // Frees the stream's parsed policy early; a stream created again under the name is looked
    // up by its own document (`policy_cache`).
    ctx.policies.forget(&engine.stream_arn(&name));
    Ok(())
}
