//! PutResourcePolicy: attaches a policy document to a stream, once it parses as a resource
//! policy about that stream (`auth::policy`); `api::access` enforces it from then on.

use crate::api::Context;
use crate::api::common::resource_key;
use crate::auth::policy::{Kind, Policy};
use crate::error::{KinesisError, Result};
use crate::protocol::model::PutResourcePolicyInput;

pub async fn handle(ctx: &Context, input: PutResourcePolicyInput) -> Result<()> {
    let engine = &*ctx.engine;
    let name = resource_key(ctx, input.resource_arn.as_deref().unwrap_or_default()).await?;
    // A missing stream is reported before a bad document.
    engine.stream(&name).await?;
    let document = input.policy.unwrap_or_default();
    let policy = Policy::parse(&document, Kind::Resource).map_err(|e| KinesisError::policy_rejected(&e.0))?;
    let arn = engine.stream_arn(&name);
    if !policy.names_resource(&arn) {
        return Err(KinesisError::policy_rejected(&format!(
            "a statement's Resource does not name the resource the policy is attached to, {arn}."
        )));
    }
    engine.put_resource_policy(&name, document).await
}
