//! PutResourcePolicy: attaches a JSON policy document to a stream or a consumer. It is stored as
//! given; enforcing it is the job of authentication.

use crate::api::Context;
use crate::api::common::{Resource, resource};
use crate::error::Result;
use crate::protocol::model::PutResourcePolicyInput;

pub async fn handle(ctx: &Context, input: PutResourcePolicyInput) -> Result<()> {
    let engine = &*ctx.engine;
    let policy = input.policy.unwrap_or_default();
    match resource(engine, input.resource_arn.as_deref().unwrap_or_default())? {
        Resource::Stream(name) => engine.put_resource_policy(&name, policy).await,
        Resource::Consumer(consumer) => engine.put_consumer_policy(&consumer, policy).await,
    }
}
