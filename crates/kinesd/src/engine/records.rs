//! The data plane: routing and appending records, issuing iterators, reading.

use std::sync::Arc;

use bytes::Bytes;

use super::catalog::{Shard, Stream, StreamKey, StreamMode, StreamStatus};
use super::claim::{Claim, Version};
use super::hash::{HashKey, HashKeyRange};
use super::limits::WriteScope;
use super::meters::{Flow, iterator_age_ms};
use super::sequence::SequenceNumber;
use super::token::ShardIteratorToken;
use super::{Engine, now_ms};
use crate::error::{INTERNAL_FAILURE_MESSAGE, KinesisError, Result};
use crate::store::{NewRecord, StoredRecord};

/// Record flag: written while the stream was marked KMS-encrypted, so GetRecords reports it
/// with EncryptionType KMS. Only a marking: the record's bytes are stored as written.
pub const FLAG_ENCRYPTED: u8 = 1;
/// GetRecords returns at most this much data per call.
pub const MAX_GET_RECORDS_BYTES: usize = 10 * 1024 * 1024;

pub struct PutEntry {
    pub partition_key: String,
    pub data: Bytes,
    pub explicit_hash_key: Option<HashKey>,
}

/// Why a record is refused before it is written, as PutRecords reports it per record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordFault {
    /// InternalFailure, "Internal service failure."
    Internal,
    /// ProvisionedThroughputExceededException, "Rate exceeded for shard ...".
    Throttled,
}

/// Where one record of a PutRecords landed, or why it did not.
pub enum PutOutcome {
    Stored { shard_index: u32, sequence_number: SequenceNumber },
    Failed { code: &'static str, message: String },
}

pub enum IteratorStart {
    AtSequence(Claim),
    AfterSequence(Claim),
    TrimHorizon,
    Latest,
    AtTimestamp(i64),
}

pub struct ChildShard {
    pub index: u32,
    pub parents: Vec<u32>,
    pub range: HashKeyRange,
}

pub struct RecordsPage {
    pub shard: Shard,
    pub records: Vec<StoredRecord>,
    pub next_iterator: Option<String>,
    pub millis_behind_latest: i64,
    pub child_shards: Vec<ChildShard>,
}

impl Engine {
    /// The stream, if it accepts data-plane calls; a CREATING stream does not exist yet for them.
    async fn data_stream(&self, name: &StreamKey) -> Result<Arc<Stream>> {
        let stream = self.stream(name).await?;
        if stream.status == StreamStatus::Creating {
            return Err(self.not_found(name));
        }
        Ok(stream)
    }

    /// Appends records, each to the open shard its hash key routes to. Records bound for one
    /// shard keep their request order; different shards are appended concurrently.
    pub async fn put_records(
        &self,
        name: &StreamKey,
        entries: Vec<PutEntry>,
    ) -> Result<(Arc<Stream>, Vec<PutOutcome>)> {
        self.put_records_with(name, entries, &|_| None).await
    }

    /// [`Engine::put_records`], where `fault` may refuse a record bound for a shard (by index)
    /// before it is written, and, when limits are enforced, the records over their shard's (or
    /// on-demand stream's) write capacity fail with ProvisionedThroughputExceededException. A
    /// refused record is never written.
    pub async fn put_records_with(
        &self,
        name: &StreamKey,
        entries: Vec<PutEntry>,
        fault: &(dyn Fn(u32) -> Option<RecordFault> + Sync),
    ) -> Result<(Arc<Stream>, Vec<PutOutcome>)> {
        let snapshot = self.data_stream(name).await?;
        // Route and append under the stream's shared write gate, re-reading the stream once it
        // is held: a reshard that closed shards meanwhile has published its result by then.
        let gate = snapshot.gate.clone();
        let _shared = gate.0.read().await;
        let stream = self
            .streams
            .read()
            .get(name)
            .filter(|s| s.created_ms == snapshot.created_ms)
            .cloned()
            .ok_or_else(|| self.not_found(name))?;
        let flags = if stream.encryption_key.is_some() { FLAG_ENCRYPTED } else { 0 };
        let mut outcomes: Vec<Option<PutOutcome>> = (0..entries.len()).map(|_| None).collect();
        // (shard position in stream.shards, request indexes, records)
        let mut batches: Vec<(usize, Vec<usize>, Vec<NewRecord>)> = Vec::new();
        for (i, entry) in entries.into_iter().enumerate() {
            let key = entry.explicit_hash_key.unwrap_or_else(|| HashKey::from_partition_key(&entry.partition_key));
            let Some(slot) = stream.route_slot(key.0) else {
                return Err(KinesisError::internal_failure_because("no open shard covers the hash key"));
            };
            if let Some(f) = fault(stream.shards[slot].index) {
                outcomes[i] = Some(self.refused(&stream, &stream.shards[slot], f));
                continue;
            }
            let record = NewRecord { partition_key: Bytes::from(entry.partition_key), data: entry.data, flags };
            match batches.iter_mut().find(|b| b.0 == slot) {
                Some(b) => {
                    b.1.push(i);
                    b.2.push(record);
                }
                None => batches.push((slot, vec![i], vec![record])),
            }
        }
        if let Some(limits) = &self.limits {
            for (slot, indexes, records) in &mut batches {
                let shard = &stream.shards[*slot];
                let scope = match stream.mode {
                    StreamMode::OnDemand => WriteScope::OnDemand { stream_created_ms: stream.created_ms },
                    StreamMode::Provisioned => {
                        WriteScope::Shard { stream_created_ms: stream.created_ms, shard_index: shard.index }
                    }
                };
                let mut verdicts = Vec::with_capacity(records.len());
                let sizes = records.iter().map(|r| r.data.len() + r.partition_key.len());
                limits.admit_writes(scope, sizes, |ok| verdicts.push(ok));
                if verdicts.iter().all(|&ok| ok) {
                    continue;
                }
                let mut verdict = verdicts.iter();
                let mut kept = Vec::with_capacity(indexes.len());
                for &i in indexes.iter() {
                    if *verdict.next().unwrap_or(&false) {
                        kept.push(i);
                    } else {
                        outcomes[i] = Some(self.refused(&stream, shard, RecordFault::Throttled));
                    }
                }
                let mut verdict = verdicts.iter();
                records.retain(|_| *verdict.next().unwrap_or(&false));
                *indexes = kept;
            }
            batches.retain(|b| !b.1.is_empty());
        }
        let now = now_ms();
        let appends = batches.into_iter().map(|(slot, indexes, records)| {
            let shard = &stream.shards[slot];
            let bytes: usize = records.iter().map(|r| r.data.len() + r.partition_key.len()).sum();
            async move { (shard, indexes, bytes as u64, self.store.append(shard.log, records, now).await) }
        });
        let shard_level = stream.shard_level();
        for (shard, indexes, bytes, result) in futures_util::future::join_all(appends).await {
            let records = indexes.len() as u64;
            let flow = if result.is_ok() { Flow::Incoming { records, bytes } } else { Flow::Failed { records } };
            stream.meters.count(flow, shard.index, shard_level);
            match result {
                Ok(appended) => {
                    for (k, &i) in indexes.iter().enumerate() {
                        let seq = shard.sequence_number(appended.first_position + k as u64, appended.arrival_ms);
                        outcomes[i] = Some(PutOutcome::Stored { shard_index: shard.index, sequence_number: seq });
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, shard = shard.index, "append failed");
                    for &i in &indexes {
                        outcomes[i] = Some(PutOutcome::Failed {
                            code: "InternalFailure",
                            message: INTERNAL_FAILURE_MESSAGE.into(),
                        });
                    }
                }
            }
        }
        let outcomes = outcomes
            .into_iter()
            .map(|o| {
                o.unwrap_or(PutOutcome::Failed { code: "InternalFailure", message: INTERNAL_FAILURE_MESSAGE.into() })
            })
            .collect();
        Ok((stream, outcomes))
    }

    /// The outcome of a record refused before it was written.
    fn refused(&self, stream: &Stream, shard: &Shard, fault: RecordFault) -> PutOutcome {
        let flow = match fault {
            RecordFault::Internal => Flow::Failed { records: 1 },
            RecordFault::Throttled => Flow::WriteThrottled { records: 1 },
        };
        stream.meters.count(flow, shard.index, stream.shard_level());
        match fault {
            RecordFault::Internal => {
                PutOutcome::Failed { code: "InternalFailure", message: INTERNAL_FAILURE_MESSAGE.into() }
            }
            RecordFault::Throttled => PutOutcome::Failed {
                code: "ProvisionedThroughputExceededException",
                message: KinesisError::shard_rate_exceeded(&shard.id(), &stream.name, &stream.account)
                    .message()
                    .to_owned(),
            },
        }
    }

    fn shard_not_found(&self, stream: &StreamKey, shard: &str) -> KinesisError {
        KinesisError::shard_does_not_exist(shard, &stream.name, &stream.account)
    }

    pub async fn get_shard_iterator(&self, key: &StreamKey, shard_id: &str, start: IteratorStart) -> Result<String> {
        let (stream, shard, position) = self.start_position(key, shard_id, start).await?;
        Ok(self.iterator(&stream, shard, position))
    }

    /// Where `start` points in a shard (a log position), with AWS's checks and messages in
    /// GetShardIterator's order; SubscribeToShard starts the same way.
    pub(super) async fn start_position(
        &self,
        key: &StreamKey,
        shard_id: &str,
        start: IteratorStart,
    ) -> Result<(Arc<Stream>, u32, u64)> {
        let (account, name) = (&key.account, &key.name);
        // AWS parses the shard id before it looks the stream up.
        let Some(index) = super::catalog::parse_shard_id(shard_id) else {
            return Err(KinesisError::could_not_find_shard(shard_id, name, account));
        };
        let stream = match self.stream(key).await {
            Ok(stream) if stream.status != StreamStatus::Creating => stream,
            _ => return Err(self.shard_not_found(key, &super::catalog::shard_id(index))),
        };
        let Some(shard) = stream.shard(index) else {
            return Err(self.shard_not_found(key, &super::catalog::shard_id(index)));
        };
        if let Some(limits) = &self.limits
            && !limits.admit_iterator(stream.created_ms, shard.index)
        {
            return Err(KinesisError::shard_rate_exceeded(&shard.id(), name, account));
        }
        // AWS's checks on a client's sequence number, in its order (see `claim`).
        let check = |claim: &Claim| -> Result<SequenceNumber> {
            if claim.shard_index != i64::from(shard.index) {
                return Err(KinesisError::sequence_number_of_other_shard(&claim.shown_shard_id(), &shard.id()));
            }
            match claim.sequence {
                Some(seq) if seq.shard_created_secs == shard.created_ms / 1000 => Ok(seq),
                _ if claim.version == Version::V0 => Err(KinesisError::internal_failure()),
                _ => Err(KinesisError::sequence_number_of_other_stream(&claim.text, &shard.id(), name, account)),
            }
        };
        let position = match start {
            IteratorStart::AtSequence(claim) => Shard::log_position(&check(&claim)?),
            // The record after sequence position p sits at log position p.
            IteratorStart::AfterSequence(claim) => check(&claim)?.position,
            IteratorStart::TrimHorizon => self.store.extent(shard.log).await?.trim,
            IteratorStart::Latest => self.store.extent(shard.log).await?.tip,
            IteratorStart::AtTimestamp(ms) => {
                let now = now_ms() as i64;
                if ms > now {
                    return Err(KinesisError::iterator_timestamp_in_future(ms, now));
                }
                self.store.seek_time(shard.log, ms.max(0) as u64).await?
            }
        };
        Ok((stream.clone(), shard.index, position))
    }

    fn iterator(&self, stream: &Stream, shard_index: u32, position: u64) -> String {
        ShardIteratorToken {
            account: stream.account.clone(),
            stream_name: stream.name.clone(),
            stream_created_ms: stream.created_ms,
            shard_index,
            position,
            issued_ms: now_ms(),
            nonce: self.iterator_nonce.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        }
        .encode(&self.secret)
    }

    /// The stream and shard index a shard iterator reads, if it is one of this server's.
    pub fn iterator_target(&self, iterator: &str) -> Option<(StreamKey, u32)> {
        ShardIteratorToken::decode(iterator, &self.secret)
            .ok()
            .map(|t| (StreamKey::new(t.account, t.stream_name), t.shard_index))
    }

    /// Reads from where `iterator` points. `named_stream` is `(name, StreamARN as sent)` when the
    /// request has a StreamARN: an iterator is read only together with the stream it came from.
    pub async fn get_records(
        &self,
        iterator: &str,
        limit: usize,
        named_stream: Option<(&StreamKey, &str)>,
    ) -> Result<RecordsPage> {
        let token =
            ShardIteratorToken::decode(iterator, &self.secret).map_err(|_| KinesisError::shard_iterator_invalid())?;
        let now = now_ms();
        if now.saturating_sub(token.issued_ms) > self.config.iterator_ttl_ms {
            return Err(KinesisError::iterator_expired(token.issued_ms, now, self.config.iterator_ttl_ms));
        }
        // No AWS answer is on record for a StreamARN that names another stream than the
        // iterator's; kinesd refuses the pair rather than read a stream the caller did not name
        // (docs/aws-behaviour.md §14). The text is kinesd's own.
        let key = StreamKey::new(token.account.clone(), token.stream_name.clone());
        if let Some((named, arn)) = named_stream
            && *named != key
        {
            return Err(KinesisError::stream_arn_not_the_iterators(arn, &token.stream_name));
        }
        let gone = || self.shard_not_found(&key, &super::catalog::shard_id(token.shard_index));
        let stream = self.stream(&key).await.map_err(|_| gone())?;
        let shard = match stream.shard(token.shard_index) {
            Some(shard) if stream.created_ms == token.stream_created_ms => shard.clone(),
            // An iterator never reads a stream other than the one it was issued for: its position
            // means nothing in a same-named successor, and reading there would silently skip or
            // repeat records. AWS (2018, kinesalite's getRecords test run against production)
            // answers such an iterator with InternalFailure once the name has that shard again.
            Some(_) if stream.status != StreamStatus::Creating => {
                tracing::debug!(stream = %token.stream_name, "iterator of an earlier incarnation of the stream");
                return Err(KinesisError::internal_failure());
            }
            // The same test asserts this answer for a shard the new incarnation lacks; a CREATING
            // successor has no shards for data-plane calls yet.
            _ => return Err(gone()),
        };
        if let Some(limits) = &self.limits
            && !limits.admit_read(stream.created_ms, shard.index)
        {
            stream.meters.count(Flow::ReadThrottled, shard.index, stream.shard_level());
            return Err(KinesisError::shard_read_rate_exceeded(&stream.account, &stream.name, &shard.id()));
        }
        let end = shard.closed.map(|c| c.end_position).unwrap_or(u64::MAX);
        let limit = if token.position >= end { 0 } else { limit.min((end - token.position) as usize) };
        let batch = if limit == 0 {
            crate::store::ReadBatch { records: Vec::new(), next: token.position, tip: token.position }
        } else {
            self.store.read(shard.log, token.position, limit, MAX_GET_RECORDS_BYTES).await?
        };
        let bytes: usize = batch.records.iter().map(|r| r.data.len() + r.partition_key.len()).sum();
        if let Some(limits) = &self.limits {
            limits.charge_read(stream.created_ms, shard.index, bytes);
        }
        let read = Flow::GetRecords { records: batch.records.len() as u64, bytes: bytes as u64 };
        stream.meters.count(read, shard.index, stream.shard_level());
        let millis_behind_latest = millis_behind_latest(&batch, now);
        let (next_iterator, child_shards) = if batch.next >= end {
            (None, child_shards(&stream, shard.index))
        } else {
            (Some(self.iterator(&stream, shard.index, batch.next)), Vec::new())
        };
        let age = iterator_age_ms(batch.records.last().map(|r| r.arrival_ms), next_iterator.is_none(), now);
        stream.meters.0.set_iterator_age(shard.index, age);
        Ok(RecordsPage { shard, records: batch.records, next_iterator, millis_behind_latest, child_shards })
    }
}

/// How far behind the tip a reader is after `batch`: the age of its last record when more
/// records follow it, else 0 (AWS reports 0 for a reader at the tip).
pub(super) fn millis_behind_latest(batch: &crate::store::ReadBatch, now: u64) -> i64 {
    match batch.records.last() {
        Some(last) if batch.next < batch.tip => now.saturating_sub(last.arrival_ms) as i64,
        _ => 0,
    }
}

/// The shards a closed shard's hash keys went to, each with its parents.
pub(super) fn child_shards(stream: &Stream, index: u32) -> Vec<ChildShard> {
    stream
        .shards
        .iter()
        .filter(|s| s.parent == Some(index) || s.adjacent_parent == Some(index))
        .map(|s| ChildShard {
            index: s.index,
            parents: s.parent.into_iter().chain(s.adjacent_parent).collect(),
            range: s.range,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::EngineConfig;
    use crate::engine::lifecycle::NewStream;
    use crate::engine::test_key as k;
    use crate::store::memory::MemoryStore;

    async fn engine() -> Arc<Engine> {
        let config =
            EngineConfig { create_stream_ms: 0, delete_stream_ms: 0, update_stream_ms: 0, ..EngineConfig::default() };
        Engine::open(config, Arc::new(MemoryStore::new())).await.unwrap()
    }

    async fn create(engine: &Engine, name: &str, shards: u32) {
        let stream = NewStream::provisioned(&k(name), shards);
        engine.create_stream(stream).await.unwrap();
    }

    /// Puts `n` records into shard 0 (hash key 0 routes there whatever the shard count).
    async fn put(engine: &Engine, name: &str, n: usize) {
        let entry = || PutEntry {
            partition_key: "k".into(),
            data: Bytes::from_static(b"x"),
            explicit_hash_key: Some(HashKey(0)),
        };
        engine.put_records(&k(name), (0..n).map(|_| entry()).collect()).await.unwrap();
    }

    /// Deletes `name` and creates it again with `shards` shards, a new incarnation.
    async fn recreate(engine: &Engine, name: &str, shards: u32) {
        // At once, within the same millisecond as often as not: incarnations must differ anyway.
        engine.delete_stream(&k(name)).await.unwrap();
        create(engine, name, shards).await;
    }

    #[tokio::test]
    async fn every_incarnation_of_a_name_is_new_even_within_one_millisecond() {
        let engine = engine().await;
        create(&engine, "s", 1).await;
        let mut last = engine.stream(&k("s")).await.unwrap().created_ms;
        for _ in 0..50 {
            recreate(&engine, "s", 1).await;
            let created = engine.stream(&k("s")).await.unwrap().created_ms;
            assert!(created > last, "incarnation {created} after {last}");
            last = created;
        }
    }

    #[tokio::test]
    async fn an_iterator_never_reads_a_later_incarnation_of_its_stream() {
        let engine = engine().await;
        create(&engine, "s", 2).await;
        put(&engine, "s", 3).await;
        let old0 = engine.get_shard_iterator(&k("s"), "0", IteratorStart::Latest).await.unwrap();
        let old1 = engine.get_shard_iterator(&k("s"), "1", IteratorStart::Latest).await.unwrap();
        recreate(&engine, "s", 1).await;
        put(&engine, "s", 5).await;
        // Position 3 exists in the new shard 0, which must not make the old iterator valid there.
        let err = engine.get_records(&old0, 100, None).await.err().expect("old iterator refused");
        assert!(matches!(err, KinesisError::InternalFailure(_)), "{err:?}");
        // Shard 1 is gone with the old incarnation.
        let err = engine.get_records(&old1, 100, None).await.err().expect("old iterator refused");
        assert!(
            matches!(&err, KinesisError::ResourceNotFound(m) if m == "Shard shardId-000000000001 in stream s under account 000000000000 does not exist"),
            "{err:?}"
        );
        // The new incarnation's own iterators read all five records.
        let fresh = engine.get_shard_iterator(&k("s"), "0", IteratorStart::TrimHorizon).await.unwrap();
        assert_eq!(engine.get_records(&fresh, 100, None).await.unwrap().records.len(), 5);
    }

    #[tokio::test]
    async fn a_stream_arn_must_name_the_stream_of_the_iterator() {
        let engine = engine().await;
        create(&engine, "a", 1).await;
        create(&engine, "b", 1).await;
        put(&engine, "a", 2).await;
        let it = engine.get_shard_iterator(&k("a"), "0", IteratorStart::TrimHorizon).await.unwrap();
        let err = engine.get_records(&it, 100, Some((&k("b"), "arn-of-b"))).await.err().expect("mismatch refused");
        assert!(
            matches!(&err, KinesisError::InvalidArgument(m) if m == "StreamARN arn-of-b does not match the stream a of the ShardIterator."),
            "{err:?}"
        );
        assert_eq!(engine.get_records(&it, 100, Some((&k("a"), "arn-of-a"))).await.unwrap().records.len(), 2);
    }
}
