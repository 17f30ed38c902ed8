//! Stream lifecycle: CreateStream → CREATING → ACTIVE, DeleteStream → DELETING → gone, and
//! the end of UPDATING. Phases end at a stored deadline, so a restart finishes them.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::catalog::{Shard, Stream, StreamMode, StreamStatus};
use super::{Engine, now_ms};
use crate::error::{KinesisError, Result};

/// On-demand streams start with four shards, as AWS's do.
pub const ON_DEMAND_INITIAL_SHARDS: u32 = 4;
pub const DEFAULT_RETENTION_HOURS: u32 = 24;
pub const DEFAULT_MAX_RECORD_KIB: u32 = 1024;
/// Streams that may be CREATING or DELETING at once, per account.
const MAX_CREATING_OR_DELETING: usize = 5;

pub struct NewStream {
    pub key: super::catalog::StreamKey,
    pub shard_count: Option<u32>,
    pub mode: StreamMode,
    pub tags: Vec<(String, String)>,
    pub max_record_kib: Option<u32>,
    pub warm_throughput_mibps: Option<i32>,
}

impl NewStream {
    /// A provisioned stream of `shards` shards with every setting at its default.
    pub fn provisioned(key: &super::catalog::StreamKey, shards: u32) -> NewStream {
        NewStream {
            key: key.clone(),
            shard_count: Some(shards),
            mode: StreamMode::Provisioned,
            tags: Vec::new(),
            max_record_kib: None,
            warm_throughput_mibps: None,
        }
    }
}

impl Engine {
    pub async fn create_stream(&self, req: NewStream) -> Result<()> {
        // A change starts from every change other nodes made before it (cluster mode).
        self.sync_catalog().await;
        let _guard = self.control.lock().await;
        let now = now_ms();
        self.advance_locked(now).await?;
        // Another node may have created it a moment ago.
        self.read_through(&req.key).await?;
        let account = &req.key.account;
        let (existing, busy, open_shards) = {
            let streams = self.streams_of(account);
            let busy =
                streams.iter().filter(|s| matches!(s.status, StreamStatus::Creating | StreamStatus::Deleting)).count();
            let open: usize =
                streams.iter().filter(|s| s.mode == StreamMode::Provisioned).map(|s| s.open_shard_count()).sum();
            (self.streams.read().contains_key(&req.key), busy, open)
        };
        if existing {
            return Err(KinesisError::stream_already_exists(&req.key.name, account));
        }
        self.check_creation_tags(&req.key, &req.tags)?;
        if req.warm_throughput_mibps.is_some() && !self.commitment_enabled(account, now) {
            return Err(KinesisError::warm_throughput_needs_commitment());
        }
        let shard_count = match (req.mode, req.shard_count) {
            (StreamMode::Provisioned, Some(n)) => n,
            (StreamMode::Provisioned, None) => {
                return Err(KinesisError::shard_count_required());
            }
            (StreamMode::OnDemand, _) => ON_DEMAND_INITIAL_SHARDS,
        };
        if req.mode == StreamMode::Provisioned {
            let limit = self.config.shard_limit as usize;
            if open_shards + shard_count as usize > limit {
                return Err(self.shard_limit_exceeded(account, open_shards, shard_count as usize));
            }
        } else {
            self.check_on_demand_limit(account)?;
        }
        if busy >= MAX_CREATING_OR_DELETING {
            // Terraform retries CreateStream on this message's "simultaneously be in CREATING or
            // DELETING", one more reason it stays AWS's text to the byte.
            return Err(KinesisError::too_many_streams_changing(account, MAX_CREATING_OR_DELETING));
        }

        let ranges = super::hash::creation_ranges(shard_count);
        // The creation time is the stream's incarnation, which iterators and page tokens carry:
        // a stream deleted and created again within one millisecond must still get a new one.
        let created = now.max(self.last_created_ms.load(Ordering::Acquire) + 1);
        self.last_created_ms.store(created, Ordering::Release);
        let logs = self.allocate_logs(ranges.len()).await?;
        let mut shards = Vec::with_capacity(ranges.len());
        for (i, (range, log)) in ranges.into_iter().zip(logs).enumerate() {
            shards.push(Shard {
                index: i as u32,
                log,
                range,
                parent: None,
                adjacent_parent: None,
                created_ms: created,
                closed: None,
            });
        }
        let (status, until) = phase(StreamStatus::Creating, now, self.config.create_stream_ms);
        self.save(Stream {
            name: req.key.name,
            account: req.key.account,
            created_ms: created,
            status,
            status_until_ms: until,
            mode: req.mode,
            retention_hours: DEFAULT_RETENTION_HOURS,
            next_shard_index: shard_count,
            shards,
            tags: req.tags,
            max_record_kib: req.max_record_kib.unwrap_or(DEFAULT_MAX_RECORD_KIB),
            encryption_key: None,
            shard_level_metrics: Vec::new(),
            warm_throughput_mibps: req.warm_throughput_mibps,
            pending: None,
            scalings_ms: Vec::new(),
            mode_switches_ms: Vec::new(),
            encryption_changes_ms: Vec::new(),
            resource_policy: None,
            claim: None,
            gate: Default::default(),
            routing: Default::default(),
            meters: Default::default(),
        })
        .await?;
        Ok(())
    }

    /// DeleteStream of a stream without consumers (see [`Engine::delete_stream_and_consumers`]).
    pub async fn delete_stream(&self, key: &super::catalog::StreamKey) -> Result<()> {
        self.delete_stream_and_consumers(key, false).await
    }

    /// DeleteStream: refused while consumers are registered unless `enforce_consumer_deletion`,
    /// which deregisters them with it.
    pub async fn delete_stream_and_consumers(
        &self,
        key: &super::catalog::StreamKey,
        enforce_consumer_deletion: bool,
    ) -> Result<()> {
        let _guard = self.control.lock().await;
        let now = now_ms();
        self.advance_locked(now).await?;
        self.read_through(key).await?;
        let stream = self.current(key)?;
        match stream.status {
            StreamStatus::Deleting => return Ok(()),
            StreamStatus::Updating => return Err(self.not_active(&stream)),
            StreamStatus::Creating | StreamStatus::Active => {}
        }
        self.release_consumers(&stream, enforce_consumer_deletion, now).await?;
        let (status, until) = phase(StreamStatus::Deleting, now, self.config.delete_stream_ms);
        if status == StreamStatus::Active {
            // A zero delay deletes at once.
            return self.remove(&stream).await;
        }
        let mut next = (*stream).clone();
        next.status = status;
        next.status_until_ms = until;
        self.save(next).await?;
        Ok(())
    }
}

/// The status and deadline of a phase that lasts `delay_ms` (a zero delay skips it).
fn phase(status: StreamStatus, now: u64, delay_ms: u64) -> (StreamStatus, u64) {
    if delay_ms == 0 { (StreamStatus::Active, 0) } else { (status, now + delay_ms) }
}

impl Engine {
    /// AWS's LimitExceededException for one on-demand stream more than the account may have.
    pub(super) fn check_on_demand_limit(&self, account: &str) -> Result<()> {
        let on_demand = self.streams_of(account).iter().filter(|s| s.mode == StreamMode::OnDemand).count();
        if on_demand >= self.config.on_demand_stream_limit as usize {
            return Err(KinesisError::on_demand_stream_limit_exceeded(
                account,
                &self.config.region,
                on_demand,
                self.config.on_demand_stream_limit,
            ));
        }
        Ok(())
    }
}

/// Ends the phase `stream` is in, applying the change an UPDATING phase was for; called with
/// the control lock held.
pub(super) async fn finish_transition(engine: &Engine, stream: &Arc<Stream>) -> Result<()> {
    match stream.status {
        StreamStatus::Deleting => engine.remove(stream).await,
        StreamStatus::Creating | StreamStatus::Updating => {
            let mut next = (**stream).clone();
            next.status = StreamStatus::Active;
            next.status_until_ms = 0;
            next.claim = None;
            match next.pending.take() {
                Some(change) => super::settings::apply(engine, next, change).await,
                None => engine.save(next).await.map(|_| ()),
            }
        }
        StreamStatus::Active => Ok(()),
    }
}
