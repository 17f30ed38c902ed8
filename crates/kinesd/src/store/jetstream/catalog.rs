//! The catalog in a JetStream KV bucket, and the log-id counter beside it.
//!
//! A catalog [`Revision`] is the KV revision, which is the bucket stream's sequence number of
//! the write: unique across every key of the bucket and never reused, so a key deleted and
//! created again never returns to an old revision. Every write is one JetStream publish
//! carrying `Nats-Expected-Last-Subject-Sequence`, which the stream leader checks and applies
//! in one Raft step: that is the compare-and-set. Reads go to the leader (the bucket is made
//! without `allow_direct`), so a read that follows a write sees it.
//!
//! Keys: the engine's keys are arbitrary text, a KV key is `[-/_=.A-Za-z0-9]+` with `.` as a
//! token separator that may not lead, trail or double. [`encode_key`] keeps `[-/_A-Za-z0-9]`
//! and writes every other byte as `=XX`, which is reversible and never produces a `.`; the
//! store's own keys (`sys.…`) contain a `.` and so can never collide with an engine key.

use async_nats::HeaderMap;
use async_nats::jetstream::context::{Context, PublishErrorKind};
use async_nats::jetstream::kv::{Operation, Store as KvStore};
use async_nats::jetstream::stream::{Config, DiscardPolicy, StorageType};
use bytes::Bytes;
use futures_util::StreamExt;
use std::future::Future;

use super::wire::REQUEST_TIMEOUT;
use super::{is_wrong_last_sequence, nats_error, timed};
use crate::store::{CatalogEvent, Expect, Result, Revision, StoreError};

/// Catalog changes waiting for the engine. Each is a few dozen bytes; when the engine is
/// slower than the changes, the watch waits (and JetStream's flow control holds the rest).
const WATCH_QUEUE: usize = 1024;

/// The key under which the next log id is kept (a decimal u64), changed by compare-and-set.
const NEXT_LOG_ID: &str = "sys.next_log_id";

/// The catalog bucket of one store prefix.
pub(super) struct Catalog {
    kv: KvStore,
    js: Context,
    /// `$KV.<bucket>.`, the subject prefix of every key.
    subject_prefix: String,
    /// `KV_<bucket>`, the bucket's stream.
    stream: String,
}

/// How long opening the catalog bucket keeps trying before the start fails.
const OPEN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);
/// The pause between two attempts.
const OPEN_RETRY: std::time::Duration = std::time::Duration::from_millis(250);

impl Catalog {
    /// Opens the bucket `<prefix>_catalog`, creating it if it does not exist (two nodes racing
    /// to create it both end up with the one that won).
    pub(super) async fn open(js: &Context, prefix: &str, replicas: usize) -> Result<Catalog> {
        let bucket = format!("{prefix}_catalog");
        let stream = format!("KV_{bucket}");
        // The settings async-nats would use for a bucket of history 1, except `allow_direct`:
        // direct gets may be answered by a lagging follower, and a catalog read must see the
        // write that came before it.
        let config = Config {
            name: stream.clone(),
            subjects: vec![format!("$KV.{bucket}.>")],
            max_messages_per_subject: 1,
            allow_rollup: true,
            deny_delete: true,
            allow_direct: false,
            discard: DiscardPolicy::New,
            num_replicas: replicas,
            storage: StorageType::File,
            ..Default::default()
        };
        // Get or create, retried until OPEN_TIMEOUT: a create that another node won, or one whose
        // answer was lost or slow (an R3 stream needs its Raft group placed and elected), is
        // followed by another look rather than taken as failed or as done.
        let deadline = tokio::time::Instant::now() + OPEN_TIMEOUT;
        let kv = loop {
            let created = match timed(js.get_stream(&stream)).await {
                Ok(_) => Ok(()),
                Err(_) => timed(js.create_stream(config.clone())).await.map(drop),
            };
            let attempt = match created {
                Ok(()) => timed(js.get_key_value(&bucket)).await,
                Err(e) => Err(e),
            };
            match attempt {
                Ok(kv) => break kv,
                Err(e) if tokio::time::Instant::now() >= deadline => return Err(e),
                Err(e) => {
                    tracing::debug!(error = %e, bucket, "catalog bucket not ready; retrying");
                    tokio::time::sleep(OPEN_RETRY).await;
                }
            }
        };
        Ok(Catalog { kv, js: js.clone(), subject_prefix: format!("$KV.{bucket}."), stream })
    }

    /// Every entry; retried for up to OPEN_TIMEOUT, because a listing (an ordered consumer on
    /// the bucket) can time out while a restarted server catches up, and a node starting then
    /// should wait rather than fail.
    pub(super) async fn load(&self) -> Result<Vec<(String, Bytes, Revision)>> {
        retrying("catalog listing", || self.load_once()).await
    }

    async fn load_once(&self) -> Result<Vec<(String, Bytes, Revision)>> {
        let mut keys = timed(self.kv.keys()).await?;
        let mut names = Vec::new();
        loop {
            let next = tokio::time::timeout(REQUEST_TIMEOUT, keys.next()).await.map_err(nats_error)?;
            let Some(key) = next else { break };
            names.push(key.map_err(nats_error)?);
        }
        let mut entries = Vec::with_capacity(names.len());
        for encoded in names {
            let Some(key) = decode_key(&encoded) else { continue };
            // A key deleted between the listing and here is simply not loaded.
            if let Some((value, revision)) = self.get_encoded(&encoded).await? {
                entries.push((key, value, revision));
            }
        }
        Ok(entries)
    }

    pub(super) async fn get(&self, key: &str) -> Result<Option<(Bytes, Revision)>> {
        self.get_encoded(&encode_key(key)).await
    }

    /// The value and revision under an encoded key, None when absent or deleted.
    async fn get_encoded(&self, encoded: &str) -> Result<Option<(Bytes, Revision)>> {
        Ok(self.entry(encoded).await?.and_then(|(value, revision, live)| live.then_some((value, Revision(revision)))))
    }

    /// The last write of an encoded key: its value, revision, and whether it is a value
    /// (false: a delete marker, whose revision an `Expect::Absent` write must expect).
    async fn entry(&self, encoded: &str) -> Result<Option<(Bytes, u64, bool)>> {
        let entry = timed(self.kv.entry(encoded)).await?;
        Ok(entry.map(|e| (e.value, e.revision, e.operation == Operation::Put)))
    }

    pub(super) async fn put(&self, key: &str, value: Bytes, expect: Expect) -> Result<Revision> {
        let encoded = encode_key(key);
        let last = match expect {
            Expect::Revision(r) => r.0,
            // Absent: no write ever (0), or a delete marker, whose revision is the last one.
            Expect::Absent => match self.entry(&encoded).await? {
                None => 0,
                Some((_, revision, false)) => revision,
                Some((_, revision, true)) => {
                    return Err(StoreError::Conflict {
                        key: key.to_owned(),
                        expected: expect,
                        found: Some(Revision(revision)),
                    });
                }
            },
        };
        match self.publish(&encoded, HeaderMap::new(), value, last).await? {
            Some(revision) => Ok(Revision(revision)),
            None => Err(self.conflict(key, &encoded, expect).await),
        }
    }

    pub(super) async fn delete(&self, key: &str, expect: Revision) -> Result<()> {
        let encoded = encode_key(key);
        let mut headers = HeaderMap::new();
        headers.insert("KV-Operation", "DEL");
        match self.publish(&encoded, headers, Bytes::new(), expect.0).await? {
            Some(_) => Ok(()),
            None => Err(self.conflict(key, &encoded, Expect::Revision(expect)).await),
        }
    }

    /// Publishes a write of an encoded key that applies only if the key's last write is at
    /// `last` (0: never written). Ok(None): it was not (nothing changed).
    ///
    /// A write nobody took (no responders: the bucket's stream is between leaders, or this
    /// node's server has not yet learnt where its leader is, as right after start-up) stored
    /// nothing, and is sent again for up to [`UNTAKEN_RETRY`].
    async fn publish(&self, encoded: &str, mut headers: HeaderMap, value: Bytes, last: u64) -> Result<Option<u64>> {
        headers.insert("Nats-Expected-Last-Subject-Sequence", last.to_string().as_str());
        let subject = format!("{}{encoded}", self.subject_prefix);
        let deadline = tokio::time::Instant::now() + UNTAKEN_RETRY;
        loop {
            let publish =
                async { self.js.publish_with_headers(subject.clone(), headers.clone(), value.clone()).await?.await };
            let ack = tokio::time::timeout(REQUEST_TIMEOUT, publish).await.map_err(nats_error)?;
            return match ack {
                Ok(ack) => Ok(Some(ack.sequence)),
                // 10071 carries the sequence found, 10164 (seen when the leader is busy with
                // concurrent writes) does not; async-nats gives only the first its own kind.
                Err(e) if e.kind() == PublishErrorKind::WrongLastSequence || is_wrong_last_sequence(&e.to_string()) => {
                    Ok(None)
                }
                Err(e) if e.kind() == PublishErrorKind::StreamNotFound && tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
                Err(e) => Err(nats_error(e)),
            };
        }
    }

    /// The conflict a refused write reports: what the key holds now.
    async fn conflict(&self, key: &str, encoded: &str, expected: Expect) -> StoreError {
        match self.get_encoded(encoded).await {
            Ok(found) => StoreError::Conflict { key: key.to_owned(), expected, found: found.map(|(_, r)| r) },
            Err(e) => e,
        }
    }

    /// Every change of the bucket from now on (see `Store::watch_catalog`): an ordered push
    /// consumer (`kv.watch_all`), which resumes by itself across reconnections. When it fails
    /// or ends anyway, it is started again from the revision after the last one delivered and
    /// a `Resync` is sent, so that the engine reloads whatever the gap might have hidden. The
    /// task ends when the receiver is dropped.
    pub(super) async fn watch(&self) -> Result<tokio::sync::mpsc::Receiver<CatalogEvent>> {
        let mut watch = retrying("catalog watch", || timed(self.kv.watch_all())).await?;
        let (tx, rx) = tokio::sync::mpsc::channel(WATCH_QUEUE);
        let kv = self.kv.clone();
        tokio::spawn(async move {
            let mut last = 0u64;
            loop {
                let next = tokio::select! {
                    () = tx.closed() => return,
                    next = watch.next() => next,
                };
                match next {
                    Some(Ok(entry)) => {
                        last = last.max(entry.revision);
                        let revision = Revision(entry.revision);
                        let event = match decode_key(&entry.key) {
                            Some(key) => {
                                CatalogEvent::Changed { key, revision, deleted: entry.operation != Operation::Put }
                            }
                            // The log-id counter: no entry changed, but the position moved.
                            None => CatalogEvent::Moved { revision },
                        };
                        if tx.send(event).await.is_err() {
                            return;
                        }
                        continue;
                    }
                    Some(Err(e)) => tracing::warn!(error = %e, "catalog watch failed; starting it again"),
                    None => tracing::warn!("catalog watch ended; starting it again"),
                }
                loop {
                    if tx.is_closed() {
                        return;
                    }
                    let again =
                        if last == 0 { kv.watch_all().await } else { kv.watch_all_from_revision(last + 1).await };
                    match again {
                        Ok(w) => {
                            watch = w;
                            break;
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "catalog watch cannot start again yet");
                            tokio::time::sleep(OPEN_RETRY).await;
                        }
                    }
                }
                if tx.send(CatalogEvent::Resync).await.is_err() {
                    return;
                }
            }
        });
        Ok(rx)
    }

    /// The bucket's last revision, asked of its stream leader (see `Store::catalog_position`).
    pub(super) async fn position(&self) -> Result<Revision> {
        // Not `kv.status()`, which answers from the info cached when the bucket was opened; and
        // not an answer of a deposed leader, which would let a barrier pass early.
        let stream = super::stream_from_leader(&self.js, &self.stream)
            .await?
            .ok_or_else(|| nats_error(format!("the catalog bucket's stream {} is gone", self.stream)))?;
        Ok(Revision(stream.cached_info().state.last_sequence))
    }

    /// Hands out the next log id: a compare-and-set increment of a counter in the bucket, so
    /// no id is ever handed out twice, by any node, across any restart.
    pub(super) async fn next_log_id(&self) -> Result<u64> {
        loop {
            let (id, last) = match self.entry(NEXT_LOG_ID).await? {
                Some((value, revision, true)) => {
                    let text = std::str::from_utf8(&value).ok();
                    let id = text.and_then(|t| t.parse::<u64>().ok());
                    (id.ok_or_else(|| StoreError::Corrupt(format!("{NEXT_LOG_ID} holds {value:?}")))?, revision)
                }
                Some((_, revision, false)) => {
                    return Err(StoreError::Corrupt(format!("{NEXT_LOG_ID} deleted at {revision}")));
                }
                None => (0, 0),
            };
            let next = Bytes::from((id + 1).to_string());
            if self.publish(NEXT_LOG_ID, HeaderMap::new(), next, last).await?.is_some() {
                return Ok(id);
            }
            // Another node took this id; read the counter again.
        }
    }
}

/// How long a catalog write that nobody took is sent again (see `Catalog::publish`).
const UNTAKEN_RETRY: std::time::Duration = std::time::Duration::from_secs(5);

/// Runs `attempt` until it succeeds or OPEN_TIMEOUT has passed (then its last error), pausing
/// OPEN_RETRY between attempts: for requests that are safe to repeat and may fail while the
/// cluster recovers from a lost server (listings, watches).
pub(super) async fn retrying<T, F: Future<Output = Result<T>>>(
    what: &str,
    mut attempt: impl FnMut() -> F,
) -> Result<T> {
    let deadline = tokio::time::Instant::now() + OPEN_TIMEOUT;
    loop {
        match attempt().await {
            Ok(v) => return Ok(v),
            Err(e) if tokio::time::Instant::now() >= deadline => return Err(e),
            Err(e) => {
                tracing::info!(error = %e, "{what} failed; trying again");
                tokio::time::sleep(OPEN_RETRY).await;
            }
        }
    }
}

fn keeps(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'/')
}

/// An engine key as a KV key (see the module comment); the empty key becomes `=`.
pub(super) fn encode_key(key: &str) -> String {
    if key.is_empty() {
        return "=".to_owned();
    }
    let mut out = String::with_capacity(key.len());
    for &b in key.as_bytes() {
        if keeps(b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("={b:02X}"));
        }
    }
    out
}

/// The engine key a KV key encodes; None for the store's own keys and anything else that
/// [`encode_key`] cannot have produced.
pub(super) fn decode_key(encoded: &str) -> Option<String> {
    if encoded == "=" {
        return Some(String::new());
    }
    let bytes = encoded.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'=' => {
                let hex = encoded.get(i + 1..i + 3)?;
                let b = u8::from_str_radix(hex, 16).ok()?;
                if keeps(b) || hex.bytes().any(|h| h.is_ascii_lowercase()) {
                    return None;
                }
                out.push(b);
                i += 3;
            }
            b if keeps(b) => {
                out.push(b);
                i += 1;
            }
            _ => return None,
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_never_hold_a_dot() {
        for key in ["", "stream/orders", "a.b", ".x.", "a..b", "=", "é ü\n", "sys.next_log_id", "consumer:arn:aws"] {
            let encoded = encode_key(key);
            assert!(!encoded.contains('.'), "{key:?} -> {encoded}");
            assert!(encoded.bytes().all(|b| keeps(b) || b == b'='), "{encoded}");
            assert_eq!(decode_key(&encoded).as_deref(), Some(key));
        }
        assert_eq!(decode_key(NEXT_LOG_ID), None, "the store's own keys are not catalog entries");
        assert_eq!(decode_key("=41"), None, "a kept byte escaped is not an encoding");
    }
}
