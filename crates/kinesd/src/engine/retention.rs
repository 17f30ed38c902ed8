//! Retention: records older than their stream's retention period are dropped by the store's
//! `trim` when they expire (see `Engine::spawn_ticker`, which sleeps until the deadline a pass
//! returns) and at once when a period is decreased.
//!
//! The shards of a stream are trimmed concurrently (`CONCURRENT_TRIMS` at a time): a
//! trim that drops records is written to the store durably (the disk store's journal), and
//! trims sent together share one group commit instead of paying one sync each.
//!
//! Listing hides closed shards whose records have all expired (see `Stream::is_expired`); the
//! task remembers which of those it has emptied, so a stream's long tail of old closed shards
//! costs nothing on later passes.

use super::Engine;
use super::catalog::Stream;
use super::settings::MIN_RETENTION_HOURS;
use crate::error::Result;
use crate::store::StoreError;

/// Shards trimmed at once in a pass: enough that a stream's trims share group commits, few
/// enough that a pass over 10,000 shards holds little memory and leaves the journal room.
const CONCURRENT_TRIMS: usize = 256;

impl Engine {
    /// Drops the records of every stream that arrived before its trim horizon at `now_ms`, and
    /// returns when the next record or closed shard will expire: the oldest retained record's
    /// arrival (or a closed shard's close) plus its stream's retention period — no later than
    /// `now_ms` + the shortest retention any stream can have, since a record written after this
    /// pass cannot expire before that.
    pub async fn trim_expired(&self, now_ms: u64) -> Result<u64> {
        let streams: Vec<_> = self.streams.read().values().cloned().collect();
        let mut next = now_ms + u64::from(MIN_RETENTION_HOURS) * self.config.retention_hour_ms;
        for stream in streams {
            next = next.min(self.trim_stream(&stream, now_ms).await?);
        }
        Ok(next)
    }

    /// Trims one stream at `now_ms`; returns when its next record or closed shard expires
    /// (`u64::MAX` if nothing it holds ever will).
    pub(super) async fn trim_stream(&self, stream: &Stream, now_ms: u64) -> Result<u64> {
        // Records are trimmed by the (possibly shortened) retention hour; a closed shard
        // leaves listings by the real one (`Stream::is_expired`).
        let retention = u64::from(stream.retention_hours) * self.config.retention_hour_ms;
        let horizon = now_ms.saturating_sub(retention);
        let mut shards = Vec::with_capacity(stream.shards.len());
        for shard in &stream.shards {
            if !self.fully_trimmed.lock().contains(&shard.log) {
                shards.push(shard);
            }
        }
        let mut next = u64::MAX;
        for chunk in shards.chunks(CONCURRENT_TRIMS) {
            let mut passes = Vec::with_capacity(chunk.len());
            for shard in chunk {
                passes.push(self.trim_shard(stream, shard, horizon, retention, now_ms));
            }
            for shard_next in futures_util::future::join_all(passes).await {
                next = next.min(shard_next?);
            }
        }
        Ok(next)
    }

    /// Trims one shard; returns when its next record expires, or when it leaves listings.
    async fn trim_shard(
        &self,
        stream: &Stream,
        shard: &super::catalog::Shard,
        horizon: u64,
        retention: u64,
        now_ms: u64,
    ) -> Result<u64> {
        match self.store.trim(shard.log, horizon).await {
            Ok(()) => {}
            // The stream was deleted while this pass ran.
            Err(StoreError::NoSuchLog(_)) => return Ok(u64::MAX),
            Err(e) => return Err(e.into()),
        }
        if stream.is_expired(shard, now_ms) {
            self.fully_trimmed.lock().insert(shard.log);
            return Ok(u64::MAX);
        }
        let mut next = u64::MAX;
        // A closed shard expires (leaves listings) one retention period after it closed.
        if let Some(end) = shard.closed {
            next = end.closed_ms + stream.retention_ms() + 1;
        }
        // The oldest record left expires one retention period after it arrived.
        match self.store.read(shard.log, 0, 1, 1).await {
            Ok(batch) => {
                if let Some(oldest) = batch.records.first() {
                    next = next.min(oldest.arrival_ms + retention + 1);
                }
            }
            Err(StoreError::NoSuchLog(_)) => {}
            Err(e) => return Err(e.into()),
        }
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use bytes::Bytes;

    use crate::engine::lifecycle::NewStream;
    use crate::engine::records::PutEntry;
    use crate::engine::{Engine, EngineConfig, now_ms, test_key as k};
    use crate::store::memory::MemoryStore;

    const HOUR_MS: u64 = 3_600_000;

    #[tokio::test]
    async fn records_past_retention_are_dropped_and_expired_shards_remembered() {
        let config = EngineConfig { create_stream_ms: 0, update_stream_ms: 0, ..EngineConfig::default() };
        let engine = Engine::open(config, Arc::new(MemoryStore::new())).await.unwrap();
        engine.create_stream(NewStream::provisioned(&k("s"), 1)).await.unwrap();
        let entry = || PutEntry { partition_key: "pk".into(), data: Bytes::from_static(b"x"), explicit_hash_key: None };
        engine.put_records(&k("s"), vec![entry(), entry()]).await.unwrap();
        engine.split_shard(&k("s"), "0", "12345").await.unwrap();
        let stream = engine.stream(&k("s")).await.unwrap();
        let parent = stream.shards[0].clone();
        assert!(parent.closed.is_some());
        let extent = engine.store().extent(parent.log).await.unwrap();
        assert_eq!((extent.trim, extent.tip), (0, 2));

        // Within the retention period nothing goes.
        let next = engine.trim_expired(now_ms() + HOUR_MS).await.unwrap();
        // The next deadline is when the oldest record (written a moment ago) turns a day old.
        let written = engine.store().read(parent.log, 0, 1, 1).await.unwrap().records[0].arrival_ms;
        assert_eq!(next, written + 24 * HOUR_MS + 1);
        assert_eq!(engine.store().extent(parent.log).await.unwrap().trim, 0);
        assert!(!stream.is_expired(&parent, now_ms() + HOUR_MS));

        // A day and a bit later everything has expired and the closed parent is EXPIRED.
        let later = now_ms() + 25 * HOUR_MS;
        let next = engine.trim_expired(later).await.unwrap();
        // Nothing is left to expire: the next deadline is a day after the pass, when a record
        // written now could first expire.
        assert_eq!(next, later + 24 * HOUR_MS);
        assert_eq!(engine.store().extent(parent.log).await.unwrap().trim, 2);
        assert!(stream.is_expired(&parent, later));
        assert!(engine.fully_trimmed.lock().contains(&parent.log));
        assert!(!engine.fully_trimmed.lock().contains(&stream.shards[1].log));
    }
}
