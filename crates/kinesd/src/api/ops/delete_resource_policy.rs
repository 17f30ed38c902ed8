//! DeleteResourcePolicy: removes the stream's policy document, if any.

use crate::api::Context;
use crate::api::common::resource_stream;
use crate::error::Result;
use crate::protocol::model::DeleteResourcePolicyInput;

pub async fn handle(ctx: &Context, input: DeleteResourcePolicyInput) -> Result<()> {
    let engine = &*ctx.engine;
    let name = resource_stream(engine, input.resource_arn.as_deref().unwrap_or_default())?;
    engine.delete_resource_policy(&name).await
}
