//! DeleteResourcePolicy: removes the stream's policy document, if any.

use crate::api::common::resource_stream;
use crate::api::model::DeleteResourcePolicyInput;
use crate::engine::Engine;
use crate::error::Result;

pub async fn handle(engine: &Engine, input: DeleteResourcePolicyInput) -> Result<()> {
    let name = resource_stream(engine, input.resource_arn.as_deref().unwrap_or_default())?;
    engine.delete_resource_policy(&name).await
}
