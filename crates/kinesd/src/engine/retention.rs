//! Retention: records older than their stream's retention period are dropped by the store's
//! `trim`, on a timer (see `Engine::spawn_ticker`) and at once when a period is decreased.
//!
//! Listing hides closed shards whose records have all expired (see `Stream::is_expired`); the
//! task remembers which of those it has emptied, so a stream's long tail of old closed shards
//! costs nothing on later passes.

use super::Engine;
use super::catalog::Stream;
use crate::error::Result;

impl Engine {
    /// Drops the records of every stream that arrived before its trim horizon at `now_ms`.
    pub async fn trim_expired(&self, now_ms: u64) -> Result<()> {
        let streams: Vec<_> = self.streams.read().values().cloned().collect();
        for stream in streams {
            self.trim_stream(&stream, now_ms).await?;
        }
        Ok(())
    }

    pub(super) async fn trim_stream(&self, stream: &Stream, now_ms: u64) -> Result<()> {
        let horizon = stream.trim_horizon_ms(now_ms);
        for shard in &stream.shards {
            if self.fully_trimmed.lock().contains(&shard.log) {
                continue;
            }
            match self.store.trim(shard.log, horizon).await {
                Ok(()) => {}
                // The stream was deleted while this pass ran.
                Err(crate::store::StoreError::NoSuchLog(_)) => continue,
                Err(e) => return Err(e.into()),
            }
            if stream.is_expired(shard, now_ms) {
                self.fully_trimmed.lock().insert(shard.log);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use bytes::Bytes;

    use crate::engine::lifecycle::NewStream;
    use crate::engine::records::PutEntry;
    use crate::engine::{Engine, EngineConfig, now_ms};
    use crate::store::memory::MemoryStore;

    const HOUR_MS: u64 = 3_600_000;

    #[tokio::test]
    async fn records_past_retention_are_dropped_and_expired_shards_remembered() {
        let config = EngineConfig { create_stream_ms: 0, update_stream_ms: 0, ..EngineConfig::default() };
        let engine = Engine::open(config, Arc::new(MemoryStore::new())).await.unwrap();
        engine.create_stream(NewStream::provisioned("s", 1)).await.unwrap();
        let entry = || PutEntry { partition_key: "pk".into(), data: Bytes::from_static(b"x"), explicit_hash_key: None };
        engine.put_records("s", vec![entry(), entry()]).await.unwrap();
        engine.split_shard("s", "0", "12345").await.unwrap();
        let stream = engine.stream("s").await.unwrap();
        let parent = stream.shards[0].clone();
        assert!(parent.closed.is_some());
        let extent = engine.store().extent(parent.log).await.unwrap();
        assert_eq!((extent.trim, extent.tip), (0, 2));

        // Within the retention period nothing goes.
        engine.trim_expired(now_ms() + HOUR_MS).await.unwrap();
        assert_eq!(engine.store().extent(parent.log).await.unwrap().trim, 0);
        assert!(!stream.is_expired(&parent, now_ms() + HOUR_MS));

        // A day and a bit later everything has expired and the closed parent is EXPIRED.
        let later = now_ms() + 25 * HOUR_MS;
        engine.trim_expired(later).await.unwrap();
        assert_eq!(engine.store().extent(parent.log).await.unwrap().trim, 2);
        assert!(stream.is_expired(&parent, later));
        assert!(engine.fully_trimmed.lock().contains(&parent.log));
        assert!(!engine.fully_trimmed.lock().contains(&stream.shards[1].log));
    }
}
