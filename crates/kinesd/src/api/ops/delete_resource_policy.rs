//! DeleteResourcePolicy: removes the stream's policy document; a stream without one is
//! answered with ResourceNotFoundException, as AWS answers.

use crate::api::Context;
use crate::api::common::resource_key;
use crate::error::Result;
use crate::protocol::model::DeleteResourcePolicyInput;

pub async fn handle(ctx: &Context, input: DeleteResourcePolicyInput) -> Result<()> {
    let engine = &*ctx.engine;
    let name = resource_key(ctx, input.resource_arn.as_deref().unwrap_or_default()).await?;
    engine.delete_resource_policy(&name).await
}
