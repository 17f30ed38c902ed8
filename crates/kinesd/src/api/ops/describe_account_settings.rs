//! DescribeAccountSettings: the account's minimum throughput billing commitment.

use crate::api::common::commitment_view;
use crate::api::model::{DescribeAccountSettingsInput, DescribeAccountSettingsOutput};
use crate::engine::Engine;
use crate::error::Result;

pub async fn handle(engine: &Engine, _input: DescribeAccountSettingsInput) -> Result<DescribeAccountSettingsOutput> {
    Ok(DescribeAccountSettingsOutput {
        minimum_throughput_billing_commitment: Some(commitment_view(engine.account_commitment())),
    })
}
