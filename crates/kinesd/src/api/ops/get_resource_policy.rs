//! GetResourcePolicy: the stream's policy document, or "{}" when it has none (as AWS answers).

use crate::api::common::resource_stream;
use crate::api::model::{GetResourcePolicyInput, GetResourcePolicyOutput};
use crate::engine::Engine;
use crate::error::Result;

pub async fn handle(engine: &Engine, input: GetResourcePolicyInput) -> Result<GetResourcePolicyOutput> {
    let name = resource_stream(engine, input.resource_arn.as_deref().unwrap_or_default())?;
    let stream = engine.stream(&name).await?;
    Ok(GetResourcePolicyOutput { policy: stream.resource_policy.clone().unwrap_or_else(|| "{}".to_owned()) })
}
