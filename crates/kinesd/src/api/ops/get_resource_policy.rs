//! GetResourcePolicy: the stream's or consumer's policy document, or "{}" when it has none (as
//! AWS answers).

use crate::api::Context;
use crate::api::common::{Resource, resource};
use crate::error::Result;
use crate::protocol::model::{GetResourcePolicyInput, GetResourcePolicyOutput};

pub async fn handle(ctx: &Context, input: GetResourcePolicyInput) -> Result<GetResourcePolicyOutput> {
    let engine = &*ctx.engine;
    // Sees what other nodes of a cluster changed before this request (no-op on one node).
    engine.sync_catalog().await;
    let policy = match resource(ctx, input.resource_arn.as_deref().unwrap_or_default()).await? {
        Resource::Stream(name) => engine.stream(&name).await?.resource_policy.clone(),
        Resource::Consumer(consumer) => engine.consumer(&consumer).await?.resource_policy.clone(),
    };
    Ok(GetResourcePolicyOutput { policy: policy.unwrap_or_else(|| "{}".to_owned()) })
}
