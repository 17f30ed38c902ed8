//! How records travel to and from a log's JetStream stream: the message payload framing, the
//! atomic batch publish that appends, and the batched direct get that reads.
//!
//! A record is one message; its position is the message's stream sequence minus one (JetStream
//! counts from 1, logs from 0), so positions are assigned by the stream's Raft leader and mean
//! the same on every node.

use std::time::Duration;

use async_nats::{Client, HeaderMap};
use bytes::{Buf, BufMut, Bytes, BytesMut};
use futures_util::StreamExt;

use super::nats_error;
use crate::store::{NewRecord, Result, StoreError, StoredRecord};

/// The payload framing's version byte; a reader refuses anything else rather than guess.
const FRAME_VERSION: u8 = 1;
/// version, flags, arrival (u64), partition-key length (u16).
const FRAME_HEADER: usize = 1 + 1 + 8 + 2;

/// The most messages the server takes in one atomic batch (nats-server's fixed limit).
pub(super) const MAX_BATCH: usize = 1000;
/// The most messages asked for by one batched direct get; a read loops for more.
const MAX_GET_BATCH: usize = 1000;
/// The most bytes asked for by one batched direct get (the server stops there; a read loops).
const MAX_GET_BYTES: usize = 16 << 20;
/// How long one request (a batch commit, one batched get) may take before it is an error.
pub(super) const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// One record as a message payload: `[version][flags][arrival_ms: u64 BE][pk_len: u16 BE]
/// [partition key][data]`. The partition key and arrival travel in the payload, not in
/// headers, because header values cannot hold every byte a partition key can, and the arrival
/// is the engine's clock (kept monotonic by the store), not the leader's timestamp.
pub(super) fn frame(record: &NewRecord, arrival_ms: u64) -> Bytes {
    let mut out = BytesMut::with_capacity(FRAME_HEADER + record.partition_key.len() + record.data.len());
    out.put_u8(FRAME_VERSION);
    out.put_u8(record.flags);
    out.put_u64(arrival_ms);
    out.put_u16(record.partition_key.len() as u16);
    out.put_slice(&record.partition_key);
    out.put_slice(&record.data);
    out.freeze()
}

/// The record a message payload frames (see [`frame`]).
pub(super) fn unframe(position: u64, mut payload: Bytes) -> Result<StoredRecord> {
    let corrupt = || StoreError::Corrupt(format!("record at position {position} is not a kinesd record frame"));
    if payload.len() < FRAME_HEADER || payload[0] != FRAME_VERSION {
        return Err(corrupt());
    }
    payload.advance(1);
    let flags = payload.get_u8();
    let arrival_ms = payload.get_u64();
    let pk_len = payload.get_u16() as usize;
    if payload.len() < pk_len {
        return Err(corrupt());
    }
    let partition_key = payload.split_to(pk_len);
    Ok(StoredRecord { position, arrival_ms, partition_key, data: payload, flags })
}

/// How an atomic batch publish ended.
pub(super) enum BatchOutcome {
    /// Stored: the last message's stream sequence.
    Stored { last_seq: u64 },
    /// Refused because the stream's last sequence was not the expected one; nothing stored.
    /// `found`: the last sequence the leader holds, stored or still being stored, when it
    /// says (a batch in flight counts, before a stream info shows it).
    WrongLastSequence { found: Option<u64> },
    /// No stream takes the subject (the log was deleted).
    NoStream,
}

/// Publishes `payloads` to `subject` as one atomic batch (ADR-50, nats-server 2.12+): either
/// all are stored, at consecutive sequences right after `expect_last_seq`, or none is. The
/// commit is acknowledged by the stream leader only once the whole batch is stored on a
/// quorum (and synced, on a server with `sync_interval: always`).
pub(super) async fn publish_batch(
    client: &Client,
    subject: &str,
    payloads: Vec<Bytes>,
    expect_last_seq: u64,
) -> Result<BatchOutcome> {
    debug_assert!(!payloads.is_empty() && payloads.len() <= MAX_BATCH);
    let batch_id = format!("{:032x}", rand::random::<u128>());
    let count = payloads.len();
    let mut commit = None;
    for (i, payload) in payloads.into_iter().enumerate() {
        let mut headers = HeaderMap::new();
        headers.insert("Nats-Batch-Id", batch_id.as_str());
        headers.insert("Nats-Batch-Sequence", (i + 1).to_string().as_str());
        if i == 0 {
            // Allowed on the first message of a batch only; it guards the whole batch.
            headers.insert("Nats-Expected-Last-Sequence", expect_last_seq.to_string().as_str());
        }
        if i + 1 == count {
            headers.insert("Nats-Batch-Commit", "1");
            commit = Some((headers, payload));
        } else {
            client.publish_with_headers(subject.to_owned(), headers, payload).await.map_err(nats_error)?;
        }
    }
    let (headers, payload) = commit.expect("a batch has a last message");
    let request = client.request_with_headers(subject.to_owned(), headers, payload);
    let reply = match tokio::time::timeout(REQUEST_TIMEOUT, request).await {
        Err(_) => {
            return Err(StoreError::Io(std::io::Error::new(std::io::ErrorKind::TimedOut, "batch commit timed out")));
        }
        Ok(Err(e)) if e.kind() == async_nats::RequestErrorKind::NoResponders => return Ok(BatchOutcome::NoStream),
        Ok(reply) => reply.map_err(nats_error)?,
    };
    let ack: serde_json::Value = serde_json::from_slice(&reply.payload)
        .map_err(|e| StoreError::Io(std::io::Error::other(format!("unreadable batch ack: {e}"))))?;
    if let Some(error) = ack.get("error") {
        if super::is_wrong_last_sequence(&error.to_string()) {
            let description = error.get("description").and_then(|d| d.as_str()).unwrap_or_default();
            let found = description.rsplit(": ").next().and_then(|n| n.parse().ok());
            return Ok(BatchOutcome::WrongLastSequence { found });
        }
        return Err(StoreError::Io(std::io::Error::other(format!("batch publish refused: {error}"))));
    }
    let last_seq = ack.get("seq").and_then(|s| s.as_u64());
    let stored = ack.get("count").and_then(|c| c.as_u64());
    match (last_seq, stored) {
        (Some(last_seq), Some(stored)) if stored == count as u64 => Ok(BatchOutcome::Stored { last_seq }),
        _ => Err(StoreError::Io(std::io::Error::other(format!("unexpected batch ack {ack}")))),
    }
}

/// One batched direct get: up to `batch` messages of `stream` from stream sequence `seq`, and
/// at most about `max_bytes` (the server always sends at least one). Served by any replica, so
/// it may lag behind the leader: the caller checks it got what the leader said exists.
pub(super) async fn get_batch(
    client: &Client,
    stream: &str,
    seq: u64,
    batch: usize,
    max_bytes: usize,
) -> Result<Vec<(u64, Bytes)>> {
    let batch = batch.clamp(1, MAX_GET_BATCH);
    let max_bytes = max_bytes.clamp(1, MAX_GET_BYTES);
    let inbox = client.new_inbox();
    let mut replies = client.subscribe(inbox.clone()).await.map_err(nats_error)?;
    let request = serde_json::json!({ "seq": seq, "batch": batch, "max_bytes": max_bytes });
    let subject = format!("$JS.API.DIRECT.GET.{stream}");
    client.publish_with_reply(subject, inbox, request.to_string().into()).await.map_err(nats_error)?;
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + REQUEST_TIMEOUT;
    loop {
        let message = match tokio::time::timeout_at(deadline, replies.next()).await {
            Ok(Some(m)) => m,
            Ok(None) => break,
            Err(_) => {
                return Err(StoreError::Io(std::io::Error::new(std::io::ErrorKind::TimedOut, "batched get timed out")));
            }
        };
        match message.status.map(|s| s.as_u16()) {
            // 204: end of batch; 404: nothing at or after `seq`.
            Some(204) | Some(404) => break,
            Some(503) => return Err(StoreError::Io(std::io::Error::other(format!("no replica of {stream} answers")))),
            Some(code) if code >= 300 => {
                return Err(StoreError::Io(std::io::Error::other(format!(
                    "batched get of {stream}: {code} {}",
                    message.description.unwrap_or_default()
                ))));
            }
            _ => {}
        }
        let sequence = message
            .headers
            .as_ref()
            .and_then(|h| h.get("Nats-Sequence"))
            .and_then(|v| v.as_str().parse::<u64>().ok())
            .ok_or_else(|| StoreError::Io(std::io::Error::other("a batched get reply without Nats-Sequence")))?;
        out.push((sequence, message.payload));
        if out.len() >= batch {
            break;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        let record = NewRecord {
            partition_key: Bytes::from(vec![b'\n'; 300]),
            data: Bytes::from_static(b"\0\xff data"),
            flags: 0x81,
        };
        let got = unframe(7, frame(&record, 123_456)).unwrap();
        assert_eq!(
            got,
            StoredRecord {
                position: 7,
                arrival_ms: 123_456,
                partition_key: record.partition_key,
                data: record.data,
                flags: 0x81
            }
        );
        assert!(unframe(0, Bytes::from_static(b"plain")).is_err());
        let mut truncated =
            frame(&NewRecord { partition_key: Bytes::from_static(b"key"), data: Bytes::new(), flags: 0 }, 1).to_vec();
        truncated.pop();
        assert!(unframe(0, Bytes::from(truncated)).is_err(), "a key longer than the payload");
    }
}
