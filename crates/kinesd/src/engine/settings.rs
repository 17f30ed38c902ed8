//! Per-stream settings: retention, enhanced monitoring, maximum record size, the server-side
//! encryption marking, capacity mode and warm throughput — and [`apply`], which carries out
//! whatever change an UPDATING phase was for when it ends.
//!
//! Encryption, mode and warm-throughput changes go through UPDATING as AWS's do and take effect
//! when the stream is ACTIVE again (AWS: "once the status of the stream is ACTIVE, encryption
//! begins for records written to the stream"; kinesd only marks those records and the stream
//! KMS-encrypted and stores the bytes as written). Retention, metrics and record size change at
//! once.

use super::catalog::{PendingChange, Stream, StreamKey, StreamMode, within_rate};
use super::{Engine, now_ms};
use crate::error::{KinesisError, Result};

pub const MIN_RETENTION_HOURS: u32 = 24;
pub const MAX_RETENTION_HOURS: u32 = 8_760;
const DAY_MS: u64 = 86_400_000;
/// AWS allows 25 successful key applications per rolling 24 hours.
const ENCRYPTION_CHANGES_PER_DAY: usize = 25;
/// AWS allows two capacity-mode switches per rolling 24 hours.
const MODE_SWITCHES_PER_DAY: usize = 2;
/// On-demand streams scale to at most 10 GiB/s of warm throughput.
const MAX_WARM_THROUGHPUT_MIBPS: i32 = 10 * 1024;

/// Shard-level metrics in the order AWS lists them (its Java HashSet order): responses and
/// descriptions always use it, whatever order the request named them in.
pub const SHARD_LEVEL_METRICS: [&str; 7] = [
    "IncomingBytes",
    "OutgoingRecords",
    "IteratorAgeMilliseconds",
    "IncomingRecords",
    "ReadProvisionedThroughputExceeded",
    "WriteProvisionedThroughputExceeded",
    "OutgoingBytes",
];

/// Which change to the stream's retention period a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetentionChange {
    Increase,
    Decrease,
}

/// Enhanced monitoring before and after a change.
pub struct MetricsChange {
    pub current: Vec<String>,
    pub desired: Vec<String>,
}

/// Warm throughput before and after UpdateStreamWarmThroughput.
pub struct WarmThroughputChange {
    pub current: Option<i32>,
    pub target: i32,
}

impl Engine {
    pub async fn change_retention(&self, name: &StreamKey, change: RetentionChange, hours: i32) -> Result<()> {
        let (stream, _) = self
            .modify(name, |stream, _| {
                self.require_settled(stream)?;
                if hours < MIN_RETENTION_HOURS as i32 {
                    return Err(KinesisError::retention_too_short(MIN_RETENTION_HOURS, hours));
                }
                if hours > MAX_RETENTION_HOURS as i32 {
                    return Err(KinesisError::retention_too_long(MAX_RETENTION_HOURS, hours));
                }
                let existing = stream.retention_hours as i32;
                match change {
                    RetentionChange::Increase if hours < existing => {
                        return Err(KinesisError::retention_increase_below_current(&name.name, hours, existing));
                    }
                    RetentionChange::Decrease if hours > existing => {
                        return Err(KinesisError::retention_decrease_above_current(&name.name, hours, existing));
                    }
                    _ => {}
                }
                stream.retention_hours = hours as u32;
                Ok(())
            })
            .await?;
        if change == RetentionChange::Decrease {
            // Records older than the new period become inaccessible now, not at the next pass
            // of the retention task; the next pass comes when the new period says.
            let next = self.trim_stream(&stream, now_ms()).await?;
            self.schedule_retention(next);
        }
        Ok(())
    }

    /// EnableEnhancedMonitoring (`enable`) or DisableEnhancedMonitoring with ShardLevelMetrics
    /// `metrics` (already checked against the model's enum; ALL means all seven).
    pub async fn change_metrics(&self, name: &StreamKey, enable: bool, metrics: &[String]) -> Result<MetricsChange> {
        let all = metrics.iter().any(|m| m == "ALL");
        let named = |m: &str| all || metrics.iter().any(|x| x == m);
        let (_, change) = self
            .modify(name, |stream, _| {
                self.require_settled(stream)?;
                let current = stream.shard_level_metrics.clone();
                let on = |m: &str| current.iter().any(|x| x == m);
                let desired: Vec<String> = SHARD_LEVEL_METRICS
                    .iter()
                    .filter(|m| if enable { on(m) || named(m) } else { on(m) && !named(m) })
                    .map(|m| (*m).to_owned())
                    .collect();
                stream.shard_level_metrics = desired.clone();
                Ok(MetricsChange { current, desired })
            })
            .await?;
        Ok(change)
    }

    /// UpdateMaxRecordSize (1024..=10240 KiB, checked by the model). PutRecord and PutRecords
    /// enforce the new size from the next request on.
    pub async fn update_max_record_size(&self, name: &StreamKey, kib: u32) -> Result<()> {
        self.modify(name, |stream, _| {
            self.require_settled(stream)?;
            stream.max_record_kib = kib;
            Ok(())
        })
        .await
        .map(|_| ())
    }

    /// StartStreamEncryption (`Some(key)`) or StopStreamEncryption (`None`).
    pub async fn change_encryption(&self, name: &StreamKey, key: Option<String>) -> Result<()> {
        self.modify(name, |stream, now| {
            if stream.status != super::catalog::StreamStatus::Active {
                return Err(self.not_active(stream));
            }
            if !within_rate(&mut stream.encryption_changes_ms, now, DAY_MS, ENCRYPTION_CHANGES_PER_DAY) {
                return Err(KinesisError::encryption_change_rate_exceeded(
                    ENCRYPTION_CHANGES_PER_DAY,
                    &name.name,
                    &name.account,
                ));
            }
            stream.encryption_changes_ms.push(now);
            self.begin_update(stream, now, PendingChange::Encryption { key })
        })
        .await
        .map(|_| ())
    }

    /// UpdateStreamMode. Switching to the mode a stream already has changes nothing.
    pub async fn update_stream_mode(
        &self,
        name: &StreamKey,
        mode: StreamMode,
        warm_throughput_mibps: Option<i32>,
    ) -> Result<()> {
        self.modify(name, |stream, now| {
            if stream.status != super::catalog::StreamStatus::Active {
                return Err(self.not_active(stream));
            }
            if warm_throughput_mibps.is_some() && mode != StreamMode::OnDemand {
                return Err(KinesisError::warm_throughput_needs_on_demand());
            }
            if warm_throughput_mibps.is_some() && !self.commitment_enabled(&name.account, now) {
                return Err(KinesisError::warm_throughput_needs_commitment());
            }
            if mode == stream.mode {
                return Ok(());
            }
            match mode {
                StreamMode::OnDemand => self.check_on_demand_limit(&name.account)?,
                StreamMode::Provisioned => {
                    let open = self.account_open_shards(&name.account);
                    let added = stream.open_shard_count();
                    if open + added > self.config.shard_limit as usize {
                        return Err(self.shard_limit_exceeded(&name.account, open, added));
                    }
                }
            }
            if !within_rate(&mut stream.mode_switches_ms, now, DAY_MS, MODE_SWITCHES_PER_DAY) {
                return Err(KinesisError::mode_switch_rate_exceeded(MODE_SWITCHES_PER_DAY, &name.name, &name.account));
            }
            stream.mode_switches_ms.push(now);
            self.begin_update(stream, now, PendingChange::Mode { mode, warm_throughput_mibps })
        })
        .await
        .map(|_| ())
    }

    /// UpdateStreamWarmThroughput: on-demand streams of accounts with a minimum throughput
    /// billing commitment only.
    pub async fn update_warm_throughput(&self, name: &StreamKey, target: i32) -> Result<WarmThroughputChange> {
        let committed = self.commitment_enabled(&name.account, now_ms());
        let (_, change) = self
            .modify(name, |stream, now| {
                if stream.status != super::catalog::StreamStatus::Active {
                    return Err(self.not_active(stream));
                }
                if stream.mode != StreamMode::OnDemand {
                    return Err(KinesisError::warm_throughput_stream_provisioned(&name.name, &name.account));
                }
                if !committed {
                    return Err(KinesisError::warm_throughput_needs_commitment());
                }
                if target > MAX_WARM_THROUGHPUT_MIBPS {
                    return Err(KinesisError::warm_throughput_too_high(MAX_WARM_THROUGHPUT_MIBPS, target));
                }
                let current = stream.warm_throughput_mibps;
                self.begin_update(stream, now, PendingChange::WarmThroughput { target_mibps: target })?;
                Ok(WarmThroughputChange { current, target })
            })
            .await?;
        Ok(change)
    }
}

/// Carries out `change` on `next` (the stream turning ACTIVE) and persists it; called with the
/// control lock held when an UPDATING phase ends.
pub(super) async fn apply(engine: &Engine, mut next: Stream, change: PendingChange) -> Result<()> {
    match change {
        PendingChange::Split { .. } | PendingChange::Merge { .. } | PendingChange::Scale { .. } => {
            match super::reshard::plan_for(&next, &change) {
                Some(plan) => return super::reshard::apply(engine, next, plan).await,
                None => {
                    tracing::warn!(stream = %next.name, ?change, "pending reshard no longer applies; dropped")
                }
            }
        }
        PendingChange::Encryption { key } => next.encryption_key = key,
        PendingChange::Mode { mode, warm_throughput_mibps } => {
            next.mode = mode;
            next.warm_throughput_mibps = match mode {
                StreamMode::OnDemand => warm_throughput_mibps,
                StreamMode::Provisioned => None,
            };
        }
        PendingChange::WarmThroughput { target_mibps } => next.warm_throughput_mibps = Some(target_mibps),
    }
    engine.save(next).await.map(|_| ())
}
