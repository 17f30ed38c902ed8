//! PutResourcePolicy: attaches a JSON policy document to a stream. It is stored as given;
//! enforcing it is the job of authentication.

use crate::api::Context;
use crate::api::common::resource_stream;
use crate::error::Result;
use crate::protocol::model::PutResourcePolicyInput;

pub async fn handle(ctx: &Context, input: PutResourcePolicyInput) -> Result<()> {
    let engine = &*ctx.engine;
    let name = resource_stream(engine, input.resource_arn.as_deref().unwrap_or_default())?;
    engine.put_resource_policy(&name, input.policy.unwrap_or_default()).await
}
