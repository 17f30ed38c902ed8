//! DeleteStream: the stream goes DELETING, then disappears with its records.

use crate::api::common::stream_name;
use crate::api::model::DeleteStreamInput;
use crate::engine::Engine;
use crate::error::Result;

pub async fn handle(engine: &Engine, input: DeleteStreamInput) -> Result<()> {
    // EnforceConsumerDeletion only matters once consumers exist; none can be registered yet.
    let name = stream_name(engine, input.stream_name.as_deref(), input.stream_arn.as_deref())?;
    engine.delete_stream(&name).await
}
