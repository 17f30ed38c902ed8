//! DeleteStream: the stream goes DELETING, then disappears with its records.

use crate::api::Context;
use crate::api::common::stream_name;
use crate::error::Result;
use crate::protocol::model::DeleteStreamInput;

pub async fn handle(ctx: &Context, input: DeleteStreamInput) -> Result<()> {
    let engine = &*ctx.engine;
    // EnforceConsumerDeletion only matters once consumers exist; none can be registered yet.
    let name = stream_name(engine, input.stream_name.as_deref(), input.stream_arn.as_deref())?;
    engine.delete_stream(&name).await
}
