//! PutResourcePolicy: attaches a policy document to a stream or a consumer, once it parses as a
//! resource policy about that resource (`auth::policy`); `api::access` enforces it from then on.

use crate::api::Context;
use crate::api::common::{Resource, resource};
use crate::auth::policy::{Kind, Policy};
use crate::error::{KinesisError, Result};
use crate::protocol::model::PutResourcePolicyInput;

pub async fn handle(ctx: &Context, input: PutResourcePolicyInput) -> Result<()> {
    let engine = &*ctx.engine;
    let resource = resource(ctx, input.resource_arn.as_deref().unwrap_or_default()).await?;
    // A missing stream, or a missing or not ACTIVE consumer, is reported before a bad document.
    let arn = match &resource {
        Resource::Stream(name) => engine.stream_arn(&engine.stream(name).await?.key()),
        Resource::Consumer(consumer) => {
            let consumer = engine.consumer(consumer).await?;
            engine.require_active_consumer(&consumer)?;
            engine.consumer_arn(&consumer)
        }
    };
    let document = input.policy.unwrap_or_default();
    let policy = Policy::parse(&document, Kind::Resource).map_err(|e| KinesisError::policy_rejected(&e.0))?;
    if !policy.names_resource(&arn) {
        return Err(KinesisError::policy_rejected(&format!(
            "a statement's Resource does not name the resource the policy is attached to, {arn}."
        )));
    }
    // The parse is kept for the requests that will be authorized against it (should the write
    // fail, the entry matches no document the resource carries, so it is never used).
    ctx.policies.put(&arn, &document, policy);
    match resource {
        Resource::Stream(name) => engine.put_resource_policy(&name, document).await,
        Resource::Consumer(consumer) => engine.put_consumer_policy(&consumer, document).await,
    }
}
