//! The life of one SubscribeToShard response: an `initial-response` event, then
//! `SubscribeToShardEvent`s as durable writes arrive, an empty event whenever the shard has been
//! quiet for [`HEARTBEAT`], and an end — the shard's ChildShards once a closed shard is read to
//! its end, the subscription's lifetime, an exception event when it cannot go on, or the client
//! going away (noticed at once, whatever the pump is doing).
//!
//! Bounds: the pump holds at most one event's records ([`MAX_EVENT_RECORDS`] and
//! [`MAX_EVENT_BYTES`], or one larger record) and the response's frame buffer holds at most
//! `protocol::reply::STREAM_BUFFER_BYTES`; a subscriber that reads slowly holds the pump at
//! `send`, and what it has not read yet stays in the store. A client that stops reading holds
//! its subscription (one task, one event, the frame buffer) until the lifetime ends, no longer.

use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use crate::api::common::hash_range_view;
use crate::api::records::encode_records;
use crate::engine::catalog::{Shard, shard_id};
use crate::engine::fanout::{Delivery, Subscription};
use crate::engine::records::ChildShard;
use crate::engine::sequence::SequenceNumber;
use crate::error::KinesisError;
use crate::protocol::encode::{Encode, Encoder};
use crate::protocol::eventstream;
use crate::protocol::reply::{FrameSender, FrameStream, frame_stream};
use crate::protocol::{Codec, model};
use crate::shutdown::Shutdown;
use crate::store::StoredRecord;

/// The longest a subscriber waits for an event: AWS sends at least one every 5 seconds, so a
/// client can tell a quiet shard from a dead connection; a second of margin covers the trip.
pub const HEARTBEAT: Duration = Duration::from_secs(4);
/// Records per event at most (GetRecords' own limit).
pub const MAX_EVENT_RECORDS: usize = 10_000;
/// Data and partition keys per event at most, beyond a first record that is larger: small
/// enough that an event is sent within milliseconds of its records becoming durable, and far
/// below the 16 MiB the SDKs' decoders accept.
pub const MAX_EVENT_BYTES: usize = 1024 * 1024;

/// Starts the pump of `subscription` and returns the response body it feeds.
pub fn start(subscription: Subscription, codec: Codec, shutdown: Shutdown) -> FrameStream {
    let (frames, body) = frame_stream(eventstream::CONTENT_TYPE);
    tokio::spawn(pump(subscription, frames, codec, shutdown));
    body
}

async fn pump(mut sub: Subscription, frames: FrameSender, codec: Codec, mut shutdown: Shutdown) {
    if !send(&frames, eventstream::initial_response(codec), &mut shutdown, sub.expires).await {
        return;
    }
    let mut last_event = Instant::now();
    loop {
        if Instant::now() >= sub.expires {
            return;
        }
        let mut delivered = 0;
        let frame = match sub.next(MAX_EVENT_RECORDS, MAX_EVENT_BYTES).await {
            Ok(Delivery::Records { records, continuation, millis_behind_latest }) => {
                delivered = records.iter().map(|r| r.data.len() + r.partition_key.len()).sum();
                let event = ShardEvent {
                    shard: sub.shard(),
                    records: &records,
                    continuation: Some(continuation),
                    millis_behind_latest,
                    children: None,
                };
                eventstream::event(codec, "SubscribeToShardEvent", &event)
            }
            Ok(Delivery::End { children }) => {
                let event = ShardEvent {
                    shard: sub.shard(),
                    records: &[],
                    continuation: None,
                    millis_behind_latest: 0,
                    children: Some(&children),
                };
                send(&frames, eventstream::event(codec, "SubscribeToShardEvent", &event), &mut shutdown, sub.expires)
                    .await;
                return;
            }
            Ok(Delivery::Idle { continuation }) => {
                if last_event.elapsed() < HEARTBEAT {
                    let expires = sub.expires;
                    tokio::select! {
                        () = sub.changed() => {}
                        () = tokio::time::sleep_until(last_event + HEARTBEAT) => {}
                        () = tokio::time::sleep_until(expires) => return,
                        () = frames.closed() => return,
                        () = shutdown.wait() => return,
                    }
                    continue;
                }
                let event = ShardEvent {
                    shard: sub.shard(),
                    records: &[],
                    continuation: Some(continuation),
                    millis_behind_latest: 0,
                    children: None,
                };
                eventstream::event(codec, "SubscribeToShardEvent", &event)
            }
            Err(error) => {
                send(&frames, exception(codec, &error), &mut shutdown, sub.expires).await;
                return;
            }
        };
        if !send(&frames, frame, &mut shutdown, sub.expires).await {
            return;
        }
        last_event = Instant::now();
        // Enhanced fan-out's 2 MiB/s per consumer and shard, with --enforce-limits: the next
        // event waits for credit.
        let wait = sub.charge_delivery(delivered);
        if !wait.is_zero() {
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = tokio::time::sleep_until(sub.expires) => return,
                () = frames.closed() => return,
                () = shutdown.wait() => return,
            }
        }
    }
}

/// Queues one frame; false when the client has gone, the server is shutting down, or the
/// subscription's lifetime ended while a client that stopped reading held it at a full buffer
/// (so a stalled client holds its subscription no longer than a reading one).
async fn send(frames: &FrameSender, frame: Bytes, shutdown: &mut Shutdown, expires: Instant) -> bool {
    tokio::select! {
        sent = frames.send(frame) => sent.is_ok(),
        () = shutdown.wait() => false,
        () = tokio::time::sleep_until(expires) => false,
    }
}

/// The exception event that ends a subscription. The event stream's exception types are the
/// modelled errors, so InternalFailure is `InternalFailureException` there.
fn exception(codec: Codec, error: &KinesisError) -> Bytes {
    let kind = match error {
        KinesisError::InternalFailure(_) => "InternalFailureException",
        other => other.type_name(),
    };
    eventstream::exception(codec, kind, error.message())
}

/// A `SubscribeToShardEvent`: the model's members in its order, records written straight from
/// the store's.
struct ShardEvent<'a> {
    shard: &'a Shard,
    records: &'a [StoredRecord],
    continuation: Option<SequenceNumber>,
    millis_behind_latest: i64,
    children: Option<&'a [ChildShard]>,
}

impl Encode for ShardEvent<'_> {
    fn encode<E: Encoder>(&self, e: &mut E) {
        e.begin_struct();
        e.field("Records");
        encode_records(e, self.shard, self.records);
        if let Some(continuation) = &self.continuation {
            e.field("ContinuationSequenceNumber");
            e.string(&continuation.to_string());
        }
        e.field("MillisBehindLatest");
        e.int(self.millis_behind_latest);
        if let Some(children) = self.children {
            e.field("ChildShards");
            children
                .iter()
                .map(|c| model::ChildShard {
                    shard_id: shard_id(c.index),
                    parent_shards: c.parents.iter().map(|&p| shard_id(p)).collect(),
                    hash_key_range: hash_range_view(&c.range),
                })
                .collect::<Vec<_>>()
                .encode(e);
        }
        e.end_struct();
    }

    fn size_hint(&self) -> usize {
        self.records.iter().map(|r| r.data.len() * 4 / 3 + r.partition_key.len() + 160).sum::<usize>() + 512
    }
}
