//! How records travel to and from a log's JetStream stream: the *pack* (one message carrying a
//! run of consecutive records), and the batched direct get that reads packs.
//!
//! JetStream's per-message cost caps a record-per-message layout near 40 k messages/s on an R3
//! cluster, so a message carries many records: every append that a node's writer coalesces
//! into one publish (`docs/decisions/0020-cluster-throughput.md`). Each pack names the store
//! position of its first record and its count, so positions stay dense and consecutive
//! across packs and mean the same on every node; the stream sequence only orders packs.
//!
//! A pack with no records (a *marker*) carries the log's end when every record was trimmed:
//! the stream keeps its last message, so the position counter and the last arrival survive.

use std::time::Duration;

use async_nats::Client;
use bytes::{Buf, BufMut, Bytes, BytesMut};
use futures_util::StreamExt;

use super::nats_error;
use crate::store::{NewRecord, Result, StoreError, StoredRecord};

/// The payload framing's version byte; a reader refuses anything else rather than guess
/// (version 1, one record per message, was phase 1's layout and is not read any more).
const PACK_VERSION: u8 = 2;
/// version, first position (u64), count (u32), arrival (u64), writer node (u64).
const PACK_HEADER: usize = 1 + 8 + 4 + 8 + 8;
/// flags, partition-key length (u16), data length (u32).
pub(super) const RECORD_HEADER: usize = 1 + 2 + 4;
/// The NATS header repeating a pack's meta (`first,count,arrival_ms,writer`), so that a
/// headers-only consumer (the tip follower) learns where the pack ends without its payload.
pub(super) const PACK_META_HEADER: &str = "Kd-Pack";

/// The most messages asked for by one batched direct get; a read loops for more.
const MAX_GET_BATCH: usize = 1000;
/// The most bytes asked for by one batched direct get (the server stops there; a read loops).
const MAX_GET_BYTES: usize = 16 << 20;
/// How long one request (a publish acknowledgement, one batched get) may take before it is an
/// error.
pub(super) const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Where a pack's records sit in the log, when they arrived (one arrival per pack: the appends
/// a pack carries share it), and which node wrote it (see the writer's delegation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct PackMeta {
    pub first_pos: u64,
    pub count: u32,
    pub arrival_ms: u64,
    pub writer: u64,
}

impl PackMeta {
    /// The position after the pack's last record.
    pub fn end(&self) -> u64 {
        self.first_pos + u64::from(self.count)
    }

    pub fn header_value(&self) -> String {
        format!("{},{},{},{}", self.first_pos, self.count, self.arrival_ms, self.writer)
    }

    pub fn from_header_value(value: &str) -> Option<PackMeta> {
        let mut parts = value.split(',').map(|p| p.parse::<u64>().ok());
        let (first_pos, count, arrival_ms, writer) = (parts.next()??, parts.next()??, parts.next()??, parts.next()??);
        Some(PackMeta { first_pos, count: u32::try_from(count).ok()?, arrival_ms, writer })
    }
}

/// The framed size of one record inside a pack.
pub(super) fn framed_len(record: &NewRecord) -> usize {
    RECORD_HEADER + record.partition_key.len() + record.data.len()
}

/// A pack's payload: `[version][first_pos u64 BE][count u32 BE][arrival_ms u64 BE][writer u64
/// BE]`, then per
/// record `[flags][pk_len u16 BE][data_len u32 BE][partition key][data]`. Partition keys and
/// arrivals travel in the payload, not in headers, because header values cannot hold every byte
/// a partition key can, and the arrival is the engine's clock (kept monotonic by the store),
/// not the leader's timestamp.
pub(super) fn encode_pack<'a>(meta: PackMeta, records: impl Iterator<Item = &'a NewRecord> + Clone) -> Bytes {
    let size = PACK_HEADER + records.clone().map(framed_len).sum::<usize>();
    let mut out = BytesMut::with_capacity(size);
    out.put_u8(PACK_VERSION);
    out.put_u64(meta.first_pos);
    out.put_u32(meta.count);
    out.put_u64(meta.arrival_ms);
    out.put_u64(meta.writer);
    let mut n = 0u32;
    for record in records {
        out.put_u8(record.flags);
        out.put_u16(record.partition_key.len() as u16);
        out.put_u32(record.data.len() as u32);
        out.put_slice(&record.partition_key);
        out.put_slice(&record.data);
        n += 1;
    }
    debug_assert_eq!(n, meta.count, "a pack's count is the records it carries");
    out.freeze()
}

fn corrupt(seq: u64) -> StoreError {
    StoreError::Corrupt(format!("message {seq} is not a kinesd record pack"))
}

/// The meta of the pack at stream sequence `seq`, without decoding its records.
pub(super) fn pack_meta(seq: u64, payload: &[u8]) -> Result<PackMeta> {
    if payload.len() < PACK_HEADER || payload[0] != PACK_VERSION {
        return Err(corrupt(seq));
    }
    let mut header = &payload[1..PACK_HEADER];
    Ok(PackMeta {
        first_pos: header.get_u64(),
        count: header.get_u32(),
        arrival_ms: header.get_u64(),
        writer: header.get_u64(),
    })
}

/// The pack at stream sequence `seq`: its meta and its records, which share the payload's
/// memory (no copy).
pub(super) fn unpack(seq: u64, mut payload: Bytes) -> Result<(PackMeta, Vec<StoredRecord>)> {
    let meta = pack_meta(seq, &payload)?;
    payload.advance(PACK_HEADER);
    // Each record needs its header at least: a count the payload cannot hold is corrupt, and
    // is refused before it sizes an allocation.
    if (meta.count as usize).saturating_mul(RECORD_HEADER) > payload.len() {
        return Err(corrupt(seq));
    }
    let mut records = Vec::with_capacity(meta.count as usize);
    for i in 0..u64::from(meta.count) {
        if payload.len() < RECORD_HEADER {
            return Err(corrupt(seq));
        }
        let flags = payload.get_u8();
        let pk_len = payload.get_u16() as usize;
        let data_len = payload.get_u32() as usize;
        if payload.len() < pk_len.saturating_add(data_len) {
            return Err(corrupt(seq));
        }
        let partition_key = payload.split_to(pk_len);
        let data = payload.split_to(data_len);
        records.push(StoredRecord {
            position: meta.first_pos + i,
            arrival_ms: meta.arrival_ms,
            partition_key,
            data,
            flags,
        });
    }
    if !payload.is_empty() {
        return Err(corrupt(seq));
    }
    Ok((meta, records))
}

/// One batched direct get: up to `batch` messages of `stream` from stream sequence `seq`, and
/// at most about `max_bytes` (the server always sends at least one). Served by any replica, so
/// it may lag behind the leader: the caller checks it got what the leader said exists. None
/// when no replica answers (503): for a moment after a stream is created or its replicas move,
/// the server this client is connected to may not know of their direct-get subscriptions yet.
pub(super) async fn get_batch(
    client: &Client,
    stream: &str,
    seq: u64,
    batch: usize,
    max_bytes: usize,
) -> Result<Option<Vec<(u64, Bytes)>>> {
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
            Some(503) => return Ok(None),
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
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packs_round_trip() {
        let written = [
            NewRecord {
                partition_key: Bytes::from(vec![b'\n'; 256]),
                data: Bytes::from_static(b"\0\xff data"),
                flags: 0x81,
            },
            NewRecord { partition_key: Bytes::from_static(b"k"), data: Bytes::new(), flags: 0 },
            NewRecord { partition_key: Bytes::from_static(b"k3"), data: Bytes::from(vec![7u8; 100_000]), flags: 2 },
        ];
        let meta = PackMeta { first_pos: 40, count: 3, arrival_ms: 123_456, writer: 5 };
        let payload = encode_pack(meta, written.iter());
        assert_eq!(payload.len(), PACK_HEADER + written.iter().map(framed_len).sum::<usize>());
        assert_eq!(pack_meta(9, &payload).unwrap(), meta);
        let (got_meta, got) = unpack(9, payload).unwrap();
        assert_eq!(got_meta, meta);
        for (i, (w, g)) in written.iter().zip(&got).enumerate() {
            assert_eq!(
                g,
                &StoredRecord {
                    position: 40 + i as u64,
                    arrival_ms: 123_456,
                    partition_key: w.partition_key.clone(),
                    data: w.data.clone(),
                    flags: w.flags
                }
            );
        }
        assert_eq!(PackMeta::from_header_value(&meta.header_value()), Some(meta));
        assert_eq!(PackMeta::from_header_value("1,2,3"), None);
    }

    #[test]
    fn a_marker_carries_no_records() {
        let meta = PackMeta { first_pos: 8, count: 0, arrival_ms: 30, writer: 1 };
        let (got, records) = unpack(1, encode_pack(meta, [].iter())).unwrap();
        assert_eq!((got.end(), records.len()), (8, 0));
    }

    #[test]
    fn damaged_packs_are_refused() {
        let records =
            [NewRecord { partition_key: Bytes::from_static(b"key"), data: Bytes::from_static(b"d"), flags: 0 }];
        let good = encode_pack(PackMeta { first_pos: 0, count: 1, arrival_ms: 1, writer: 1 }, records.iter()).to_vec();
        assert!(unpack(1, Bytes::from_static(b"plain")).is_err());
        let mut truncated = good.clone();
        truncated.pop();
        assert!(unpack(1, Bytes::from(truncated)).is_err(), "a record longer than the payload");
        let mut trailing = good.clone();
        trailing.push(0);
        assert!(unpack(1, Bytes::from(trailing)).is_err(), "bytes after the last record");
        let mut huge_count = good;
        huge_count[9..13].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(unpack(1, Bytes::from(huge_count)).is_err(), "a count the payload cannot hold");
    }
}
