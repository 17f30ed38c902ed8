//! UpdateAccountSettings: enables or (at the earliest allowed time) disables the account's
//! minimum throughput billing commitment, synchronously, and answers with the result.

use crate::api::common::commitment_view;
use crate::api::{Context, access};
use crate::error::Result;
use crate::protocol::model::{UpdateAccountSettingsInput, UpdateAccountSettingsOutput};

pub async fn handle(ctx: &Context, input: UpdateAccountSettingsInput) -> Result<UpdateAccountSettingsOutput> {
    let engine = &*ctx.engine;
    // The model requires the commitment and checks Status against ENABLED | DISABLED.
    let enabled = input.minimum_throughput_billing_commitment.and_then(|c| c.status).is_some_and(|s| s == "ENABLED");
    access::account(ctx, "*").await?;
    let commitment = engine.update_commitment(&ctx.caller.account_id, enabled).await?;
    Ok(UpdateAccountSettingsOutput { minimum_throughput_billing_commitment: Some(commitment_view(commitment)) })
}
