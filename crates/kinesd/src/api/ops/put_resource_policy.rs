//! PutResourcePolicy: attaches a JSON policy document to a stream. It is stored as given;
//! enforcing it is the job of authentication.

use crate::api::common::resource_stream;
use crate::api::model::PutResourcePolicyInput;
use crate::engine::Engine;
use crate::error::Result;

pub async fn handle(engine: &Engine, input: PutResourcePolicyInput) -> Result<()> {
    let name = resource_stream(engine, input.resource_arn.as_deref().unwrap_or_default())?;
    engine.put_resource_policy(&name, input.policy.unwrap_or_default()).await
}
