//! Two nodes appending to one log take turns by forwarding, not by racing.
//!
//! Each pack guards its position (see `writer.rs`), so two nodes writing one log race: a node
//! with packs in flight keeps the log's proposed end moving, and the other node's packs, framed
//! on the end it read, are refused again and again (phase 1 measured a p99 of 4.8 s for the
//! loser). Instead, a writer refused because another node wrote *delegates* the log to that
//! node when the other node's id is lower: for [`DELEGATE_FOR`] its appends to the log travel
//! to the other node (a NATS request on `P.fwd.<node>`), which queues them with its own, so
//! both nodes' appends share one writer and its packs, first come first served. The lower id
//! never delegates, so two nodes cannot hand a log to each other, and a chain of forwards ends
//! (each hop goes to a lower id). When the delegation lapses the node writes directly again,
//! and delegates again at the next refusal.
//!
//! The answer comes back only after the other node's writer had the pack acknowledged by
//! JetStream, so a forwarded append promises exactly what a direct one does. A forward nobody
//! answers at once (the node is gone) is appended here instead; one that times out has an
//! unknown outcome, like a publish that times out.
//!
//! Bounds: forwarded appends wait in the receiving node's per-log queue (at most
//! `MAX_QUEUED_APPENDS`), one task each; a request is one append (at most the server's
//! `max_payload`).

use std::sync::{Arc, Weak};
use std::time::Duration;

use async_nats::{HeaderMap, Message, Subscriber};
use bytes::Bytes;
use futures_util::StreamExt;

use super::wire::{self, PackMeta, REQUEST_TIMEOUT};
use super::{LogState, Shared, nats_error};
use crate::store::{Appended, LogId, NewRecord, Result, StoreError};

/// How long a node sends a log's appends to the node that refused it, before trying to write
/// directly again.
pub(super) const DELEGATE_FOR: Duration = Duration::from_secs(1);
/// The header naming the log of a forwarded append.
const LOG_HEADER: &str = "Kd-Log";

/// The subject on which `node` takes forwarded appends.
pub(super) fn subject(prefix: &str, node: u64) -> String {
    format!("{prefix}.fwd.{node:016x}")
}

/// Takes appends forwarded to this node until the store goes away.
pub(super) async fn serve(shared: Weak<Shared>, mut requests: Subscriber) {
    while let Some(request) = requests.next().await {
        let Some(shared) = shared.upgrade() else { return };
        tokio::spawn(handle(shared, request));
    }
}

async fn handle(shared: Arc<Shared>, request: Message) {
    let Some(reply) = request.reply.clone() else { return };
    let answer = match decode(&request) {
        Some((log, records, now_ms)) => match shared.log(log).await {
            Ok(state) => shared.append_pack(&state, records, now_ms).await,
            Err(e) => Err(e),
        },
        None => Err(nats_error("a malformed forwarded append")),
    };
    let body = match answer {
        Ok(a) => format!("ok {} {}", a.first_position, a.arrival_ms),
        Err(StoreError::NoSuchLog(_)) => "nolog".to_owned(),
        Err(e) => format!("err {e}"),
    };
    let _ = shared.client.publish(reply, body.into()).await;
}

fn decode(request: &Message) -> Option<(LogId, Vec<NewRecord>, u64)> {
    let log = request.headers.as_ref()?.get(LOG_HEADER)?.as_str().parse().ok().map(LogId)?;
    let (meta, records) = wire::unpack(0, request.payload.clone()).ok()?;
    let records = records
        .into_iter()
        .map(|r| NewRecord { partition_key: r.partition_key, data: r.data, flags: r.flags })
        .collect();
    Some((log, records, meta.arrival_ms))
}

/// Sends an append to `node`. None when no node takes it (that node is gone): the caller
/// appends it itself.
pub(super) async fn forward(
    shared: &Shared,
    log: &LogState,
    node: u64,
    records: &[NewRecord],
    now_ms: u64,
) -> Option<Result<Appended>> {
    let meta = PackMeta { first_pos: 0, count: records.len() as u32, arrival_ms: now_ms, writer: shared.node_id };
    let payload: Bytes = wire::encode_pack(meta, records.iter());
    let mut headers = HeaderMap::new();
    headers.insert(LOG_HEADER, log.id.0.to_string().as_str());
    shared.forwarded.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let request = shared.client.request_with_headers(subject(&shared.prefix, node), headers, payload);
    let reply = match tokio::time::timeout(REQUEST_TIMEOUT + Duration::from_secs(5), request).await {
        Err(_) => return Some(Err(nats_error("a forwarded append timed out"))),
        Ok(Err(e)) if e.kind() == async_nats::RequestErrorKind::NoResponders => return None,
        Ok(Err(e)) => return Some(Err(nats_error(e))),
        Ok(Ok(reply)) => reply,
    };
    let text = String::from_utf8_lossy(&reply.payload);
    let mut words = text.splitn(3, ' ');
    Some(match (words.next(), words.next(), words.next()) {
        (Some("ok"), Some(first), Some(arrival)) => match (first.parse(), arrival.parse()) {
            (Ok(first_position), Ok(arrival_ms)) => Ok(Appended { first_position, arrival_ms }),
            _ => Err(nats_error(format!("a forwarded append's answer is unreadable: {text}"))),
        },
        (Some("nolog"), ..) => Err(StoreError::NoSuchLog(log.id)),
        _ => Err(nats_error(format!("forwarded append failed: {text}"))),
    })
}
