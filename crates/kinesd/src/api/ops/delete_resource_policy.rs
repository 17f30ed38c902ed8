//! DeleteResourcePolicy: removes the stream's or consumer's policy document; a stream without
//! one is answered with ResourceNotFoundException, as AWS answers.

use crate::api::Context;
use crate::api::common::{Resource, resource};
use crate::error::Result;
use crate::protocol::model::DeleteResourcePolicyInput;

pub async fn handle(ctx: &Context, input: DeleteResourcePolicyInput) -> Result<()> {
    let engine = &*ctx.engine;
    // The parse is dropped early; a lookup would miss it anyway (`policy_cache`).
    match resource(ctx, input.resource_arn.as_deref().unwrap_or_default()).await? {
        Resource::Stream(name) => {
            engine.delete_resource_policy(&name).await?;
            ctx.policies.forget(&engine.stream_arn(&name));
        }
        Resource::Consumer(consumer) => {
            engine.delete_consumer_policy(&consumer).await?;
            if let Ok(consumer) = engine.consumer(&consumer).await {
                ctx.policies.forget(&engine.consumer_arn(&consumer));
            }
        }
    }
    Ok(())
}
