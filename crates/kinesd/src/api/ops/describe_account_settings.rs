//! DescribeAccountSettings: the account's minimum throughput billing commitment.

use crate::api::common::commitment_view;
use crate::api::{Context, access};
use crate::error::Result;
use crate::protocol::model::{DescribeAccountSettingsInput, DescribeAccountSettingsOutput};

pub async fn handle(ctx: &Context, _input: DescribeAccountSettingsInput) -> Result<DescribeAccountSettingsOutput> {
    let engine = &*ctx.engine;
    access::account(ctx, "*").await?;
    Ok(DescribeAccountSettingsOutput {
        minimum_throughput_billing_commitment: Some(commitment_view(engine.account_commitment(&ctx.caller.account_id))),
    })
}
