//! GetResourcePolicy: the stream's policy document, or "{}" when it has none (as AWS answers).

use crate::api::Context;
use crate::api::common::resource_key;
use crate::error::Result;
use crate::protocol::model::{GetResourcePolicyInput, GetResourcePolicyOutput};

pub async fn handle(ctx: &Context, input: GetResourcePolicyInput) -> Result<GetResourcePolicyOutput> {
    let engine = &*ctx.engine;
    let name = resource_key(ctx, input.resource_arn.as_deref().unwrap_or_default()).await?;
    let stream = engine.stream(&name).await?;
    Ok(GetResourcePolicyOutput { policy: stream.resource_policy.clone().unwrap_or_else(|| "{}".to_owned()) })
}
