//! Account-level state: the minimum throughput billing commitment (DescribeAccountSettings,
//! UpdateAccountSettings) and the limits DescribeLimits reports.
//!
//! A commitment lasts at least 24 hours. Asking to end it earlier schedules the end for the
//! earliest allowed time (status ENABLED_UNTIL_EARLIEST_ALLOWED_END), and enabling it again
//! before then cancels that — as AWS documents. The status is derived from the stored times
//! whenever it is read, so no timer has to fire.

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::catalog::StreamMode;
use super::{Engine, now_ms, settings_key};
use crate::error::{KinesisError, Result};

/// A commitment may not end sooner than this after it started.
pub const MIN_COMMITMENT_MS: u64 = 86_400_000;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountSettings {
    /// When the current (or last) commitment started.
    #[serde(default)]
    pub commitment_started_ms: Option<u64>,
    /// When that commitment ends (or ended); None while it runs without an end.
    #[serde(default)]
    pub commitment_end_ms: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitmentStatus {
    Enabled,
    Disabled,
    EnabledUntilEarliestAllowedEnd,
}

impl CommitmentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CommitmentStatus::Enabled => "ENABLED",
            CommitmentStatus::Disabled => "DISABLED",
            CommitmentStatus::EnabledUntilEarliestAllowedEnd => "ENABLED_UNTIL_EARLIEST_ALLOWED_END",
        }
    }
}

/// The commitment as DescribeAccountSettings reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Commitment {
    pub status: CommitmentStatus,
    pub started_ms: Option<u64>,
    pub ended_ms: Option<u64>,
    pub earliest_allowed_end_ms: Option<u64>,
}

impl AccountSettings {
    pub fn commitment(&self, now: u64) -> Commitment {
        let Some(started) = self.commitment_started_ms else {
            return Commitment {
                status: CommitmentStatus::Disabled,
                started_ms: None,
                ended_ms: None,
                earliest_allowed_end_ms: None,
            };
        };
        let earliest = started + MIN_COMMITMENT_MS;
        let (status, ended) = match self.commitment_end_ms {
            None => (CommitmentStatus::Enabled, None),
            Some(end) if now < end => (CommitmentStatus::EnabledUntilEarliestAllowedEnd, None),
            Some(end) => (CommitmentStatus::Disabled, Some(end)),
        };
        Commitment {
            status,
            started_ms: Some(started),
            ended_ms: ended,
            earliest_allowed_end_ms: (status != CommitmentStatus::Disabled).then_some(earliest),
        }
    }

    /// The settings after a request for `enabled` at `now`.
    fn updated(&self, enabled: bool, now: u64) -> AccountSettings {
        let status = self.commitment(now).status;
        let mut next = self.clone();
        match (enabled, status) {
            (true, CommitmentStatus::Disabled) => {
                next.commitment_started_ms = Some(now);
                next.commitment_end_ms = None;
            }
            (true, CommitmentStatus::EnabledUntilEarliestAllowedEnd) => {
                next.commitment_end_ms = None;
            }
            (false, CommitmentStatus::Enabled) => {
                let started = self.commitment_started_ms.unwrap_or(now);
                next.commitment_end_ms = Some(now.max(started + MIN_COMMITMENT_MS));
            }
            _ => {}
        }
        next
    }
}

/// What DescribeLimits reports.
pub struct Limits {
    pub shard_limit: u32,
    pub open_shard_count: usize,
    pub on_demand_stream_count: usize,
    pub on_demand_stream_count_limit: u32,
}

impl Engine {
    fn account_settings(&self, account: &str) -> AccountSettings {
        self.accounts.lock().get(account).cloned().unwrap_or_default()
    }

    pub fn account_commitment(&self, account: &str) -> Commitment {
        self.account_settings(account).commitment(now_ms())
    }

    pub(super) fn commitment_enabled(&self, account: &str, now: u64) -> bool {
        self.account_settings(account).commitment(now).status != CommitmentStatus::Disabled
    }

    /// UpdateAccountSettings: persists the change before answering, and returns the result.
    pub async fn update_commitment(&self, account: &str, enabled: bool) -> Result<Commitment> {
        // A change starts from every change other nodes made before it (cluster mode).
        self.sync_catalog().await;
        let _guard = self.control.lock().await;
        let now = now_ms();
        let next = self.account_settings(account).updated(enabled, now);
        let value = serde_json::to_vec(&next).map_err(KinesisError::internal_failure_because)?;
        self.catalog_write(&settings_key(account), Bytes::from(value)).await?;
        let commitment = next.commitment(now);
        self.accounts.lock().insert(account.to_owned(), next);
        Ok(commitment)
    }

    /// DescribeLimits: the account's limits and what its streams use of them.
    pub async fn limits(&self, account: &str) -> Result<Limits> {
        let streams = self.account_streams(account).await?;
        Ok(Limits {
            shard_limit: self.config.shard_limit,
            open_shard_count: streams.iter().map(|s| s.counted_shards()).sum(),
            on_demand_stream_count: streams.iter().filter(|s| s.mode == StreamMode::OnDemand).count(),
            on_demand_stream_count_limit: self.config.on_demand_stream_limit,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: u64 = 3_600_000;

    #[test]
    fn a_commitment_lasts_at_least_a_day() {
        let s = AccountSettings::default();
        assert_eq!(s.commitment(0).status, CommitmentStatus::Disabled);
        let s = s.updated(true, 1_000);
        let c = s.commitment(2_000);
        assert_eq!(c.status, CommitmentStatus::Enabled);
        assert_eq!(c.earliest_allowed_end_ms, Some(1_000 + 24 * H));
        // Disabling early schedules the end; enabling again cancels it.
        let ending = s.updated(false, 2 * H);
        assert_eq!(ending.commitment(2 * H).status, CommitmentStatus::EnabledUntilEarliestAllowedEnd);
        assert_eq!(ending.updated(true, 3 * H).commitment(3 * H).status, CommitmentStatus::Enabled);
        let after = ending.commitment(1_000 + 24 * H);
        assert_eq!(after.status, CommitmentStatus::Disabled);
        assert_eq!(after.ended_ms, Some(1_000 + 24 * H));
        // After a day, disabling takes effect at once.
        let done = s.updated(false, 30 * H).commitment(30 * H);
        assert_eq!((done.status, done.ended_ms), (CommitmentStatus::Disabled, Some(30 * H)));
    }
}
