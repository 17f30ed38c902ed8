//! A node's writer of one log: coalesces concurrent appends into packs
//! (`docs/decisions/0020-cluster-throughput.md`).
//!
//! Appends wait in the log's queue; one writer task per log (started by the first append,
//! ending when the queue is empty) takes as many as fit in a pack, publishes it, and while its
//! acknowledgement is awaited more appends queue up for the next pack: the busier the log, the
//! bigger the packs, and a pack's cost (one Raft entry, one fsync, one acknowledgement) is paid
//! once for all of them.
//!
//! Each pack carries `Nats-Expected-Last-Sequence` = the sequence of the pack whose end it took
//! as its first position (the writer's own last pack, or the last pack as read from the leader).
//! The leader checks it against stored *and proposed* messages before proposing the pack, so
//! the pack lands right after that pack or not at all. A refused pack (another node appended)
//! is queued again in front, in order, and the writer re-reads the log's end.
//!
//! One pack per log per node is in flight ([`PIPELINE_DEPTH`]). A second one would have to be
//! framed on the predicted end of the first, and no guard JetStream offers makes that safe
//! against another node: `Nats-Expected-Last-Sequence` of the second pack also passes when
//! another node's pack took the first one's place, and `Nats-Expected-Last-Msg-Id`, which would
//! catch that, is checked when the entry is applied, where nats-server 2.15.1 (clustered)
//! treats a mismatch as a critical write error and stops applying the stream (measured: the
//! stream stalled). The decision record has the details.
//!
//! An append is answered only once JetStream acknowledged the pack carrying it, so the tip
//! moves over stored records only.
//!
//! Bounds: at most [`MAX_QUEUED_APPENDS`] appends wait per log (each caller waits for its
//! answer, so the engine's connection limit bounds this first); a pack holds at most
//! [`MAX_PACK_BYTES`] of framed records unless one append alone is larger (it still must fit
//! the server's `max_payload`); [`PIPELINE_DEPTH`] packs in flight per log per node.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use async_nats::HeaderMap;
use async_nats::jetstream::context::{PublishError, PublishErrorKind};
use async_nats::jetstream::publish::PublishAck;
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::wire::{self, PackMeta, REQUEST_TIMEOUT};
use super::{LogState, Shared, WriterView, forward, nats_error};
use crate::store::{Appended, NewRecord, Result, StoreError};

/// Packs of one log in flight per node: one, see the module's comment for why not more.
pub(super) const PIPELINE_DEPTH: usize = 1;
/// Framed bytes of records per pack: big enough that a pack's fixed cost (one Raft entry, one
/// acknowledgement) is small next to its records, small enough that a reader of one record
/// does not fetch megabytes.
pub(super) const MAX_PACK_BYTES: usize = 1 << 20;
/// Appends waiting for one log's writer on one node.
pub(super) const MAX_QUEUED_APPENDS: usize = 16_384;
/// How long an append may keep losing races with other nodes' appends before it fails.
const RACE_DEADLINE: std::time::Duration = std::time::Duration::from_secs(30);
/// How long an append is retried while its log's stream has no leader (nobody took the pack, so
/// nothing was stored): a stream just created, or a short election. Longer elections are
/// answered with an error the client retries (`docs/cluster.md`).
const LEADERLESS_RETRY: std::time::Duration = std::time::Duration::from_secs(2);

/// One append waiting for the writer.
pub(super) struct Pending {
    pub records: Vec<NewRecord>,
    /// Framed size of the records.
    pub bytes: usize,
    pub now_ms: u64,
    pub queued_at: Instant,
    pub deadline: Instant,
    pub reply: oneshot::Sender<Result<Appended>>,
}

impl Pending {
    pub fn new(records: Vec<NewRecord>, now_ms: u64) -> (Pending, oneshot::Receiver<Result<Appended>>) {
        let (reply, answer) = oneshot::channel();
        let bytes = records.iter().map(wire::framed_len).sum();
        let queued_at = Instant::now();
        (Pending { records, bytes, now_ms, queued_at, deadline: queued_at + RACE_DEADLINE, reply }, answer)
    }
}

/// The appends of a log waiting on this node, and whether a writer task serves them.
#[derive(Default)]
pub(super) struct WriterQueue {
    pub pending: VecDeque<Pending>,
    pub running: bool,
    /// The end of the log as the last writer task left it, for the next one: an append to an
    /// idle log then needs no re-read (a stale view is refused and re-read).
    last_view: Option<WriterView>,
}

/// The end of the log as this writer last knew it (its own last pack, or a re-read).
struct Chain {
    view: WriterView,
}

type AckFuture = Pin<Box<dyn Future<Output = std::result::Result<PublishAck, PublishError>> + Send>>;

struct InFlight {
    ack: AckFuture,
    seq: u64,
    meta: PackMeta,
    appends: Vec<Pending>,
}

/// A copy of an error for each append that shares it (store errors are not `Clone`).
fn copy_error(e: &StoreError) -> StoreError {
    match e {
        StoreError::NoSuchLog(id) => StoreError::NoSuchLog(*id),
        other => StoreError::Io(std::io::Error::other(other.to_string())),
    }
}

fn fail_all(appends: impl IntoIterator<Item = Pending>, e: &StoreError) {
    for p in appends {
        let _ = p.reply.send(Err(copy_error(e)));
    }
}

/// Queues an append and starts the log's writer if none runs.
pub(super) fn enqueue(shared: &Arc<Shared>, log: &Arc<LogState>, pending: Pending) {
    let start = {
        let mut queue = log.queue.lock();
        if queue.pending.len() >= MAX_QUEUED_APPENDS {
            let _ = pending.reply.send(Err(nats_error("too many appends waiting for this log's writer")));
            return;
        }
        queue.pending.push_back(pending);
        !std::mem::replace(&mut queue.running, true)
    };
    if start {
        tokio::spawn(run(shared.clone(), log.clone()));
    } else {
        log.work.notify_one();
    }
}

/// Hands the log to `node` for [`forward::DELEGATE_FOR`]: every queued append is forwarded to
/// it (and appended here after all if `node` is gone).
fn delegate(shared: &Arc<Shared>, log: &Arc<LogState>, node: u64) {
    *log.delegate.lock() = Some((node, Instant::now() + forward::DELEGATE_FOR));
    let queued = std::mem::take(&mut log.queue.lock().pending);
    for p in queued {
        let (shared, log) = (shared.clone(), log.clone());
        tokio::spawn(async move {
            match forward::forward(&shared, &log, node, &p.records, p.now_ms).await {
                Some(answer) => {
                    let _ = p.reply.send(answer);
                }
                None => {
                    log.delegate.lock().take_if(|d| d.0 == node);
                    enqueue(&shared, &log, p);
                }
            }
        });
    }
}

/// Takes the appends of the next pack from the queue: at least one, then as many as fit.
fn take_pack(log: &LogState, max_payload: usize) -> Vec<Pending> {
    let mut queue = log.queue.lock();
    let mut taken: Vec<Pending> = Vec::new();
    let mut bytes = 0;
    while let Some(next) = queue.pending.front() {
        if !taken.is_empty() && bytes + next.bytes > MAX_PACK_BYTES.min(max_payload) {
            break;
        }
        bytes += next.bytes;
        taken.extend(queue.pending.pop_front());
    }
    taken
}

/// The writer task of one log on this node; returns when its queue is empty and nothing is in
/// flight.
async fn run(shared: Arc<Shared>, log: Arc<LogState>) {
    // Room for the headers next to the payload in one message.
    let max_payload = (shared.client.server_info().max_payload).saturating_sub(4096).max(64 << 10);
    let mut chain: Option<Chain> = log.queue.lock().last_view.take().map(|view| Chain { view });
    let mut in_flight: VecDeque<InFlight> = VecDeque::new();
    // Appends whose pack was refused, to go back in front of the queue (in order) once the
    // packs in flight are answered.
    let mut refused: Vec<Pending> = Vec::new();
    let mut backoff = std::time::Duration::from_millis(1);
    // Whether the chain broke because another node's pack got in first.
    let mut after_refusal = false;
    loop {
        // Fill the pipeline, unless a refusal is pending: nothing may be framed on a broken
        // chain until the end is read again.
        while in_flight.len() < PIPELINE_DEPTH && refused.is_empty() {
            if chain.is_none() {
                if !in_flight.is_empty() || log.queue.lock().pending.is_empty() {
                    break;
                }
                match shared.writer_view(&log).await {
                    Ok(view) if after_refusal && view.last_writer != 0 && view.last_writer < shared.node_id => {
                        // Another node is writing this log: send it our appends rather than
                        // race it (`forward.rs`).
                        delegate(&shared, &log, view.last_writer);
                        after_refusal = false;
                        continue;
                    }
                    Ok(view) => chain = Some(Chain { view }),
                    Err(e) => {
                        let gone = matches!(e, StoreError::NoSuchLog(_));
                        fail_all(std::mem::take(&mut log.queue.lock().pending), &e);
                        if gone {
                            shared.forget(log.id);
                        }
                        break;
                    }
                }
            }
            let appends = take_pack(&log, max_payload);
            if appends.is_empty() {
                break;
            }
            let c = chain.as_mut().expect("a chain was read above");
            match publish(&shared, &log, c, appends, max_payload).await {
                Ok(flight) => in_flight.push_back(flight),
                Err((appends, e)) => {
                    fail_all(appends, &e);
                    chain = None;
                }
            }
        }
        if in_flight.is_empty() {
            if !refused.is_empty() {
                let now = Instant::now();
                {
                    let mut queue = log.queue.lock();
                    for p in refused.drain(..).rev() {
                        if now > p.deadline {
                            let _ = p.reply.send(Err(nats_error("append kept losing races with other nodes' appends")));
                        } else {
                            queue.pending.push_front(p);
                        }
                    }
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(std::time::Duration::from_millis(50));
                continue;
            }
            let idle = {
                let mut queue = log.queue.lock();
                let idle = queue.pending.is_empty();
                if idle {
                    queue.running = false;
                    queue.last_view = chain.as_ref().map(|c| c.view);
                }
                idle
            };
            if idle {
                return;
            }
            continue;
        }
        let room = in_flight.len() < PIPELINE_DEPTH && chain.is_some() && refused.is_empty();
        let oldest = in_flight.front_mut().expect("not empty");
        let outcome = tokio::select! {
            outcome = &mut oldest.ack => outcome,
            // New appends while the pipeline has room: frame the next pack now.
            _ = log.work.notified(), if room => continue,
        };
        let flight = in_flight.pop_front().expect("the oldest was just answered");
        match outcome {
            Ok(ack) if ack.sequence == flight.seq && !ack.duplicate => {
                backoff = std::time::Duration::from_millis(1);
                after_refusal = false;
                log.index.lock().insert(flight.seq, flight.meta);
                Shared::advance_tip(&log, flight.meta.end());
                let mut position = flight.meta.first_pos;
                for p in flight.appends {
                    let first_position = position;
                    position += p.records.len() as u64;
                    let _ = p.reply.send(Ok(Appended { first_position, arrival_ms: flight.meta.arrival_ms }));
                }
            }
            Ok(ack) => {
                chain = None;
                let e = StoreError::Corrupt(format!(
                    "log {:?}: a pack framed for sequence {} was stored at {}",
                    log.id, flight.seq, ack.sequence
                ));
                fail_all(flight.appends, &e);
            }
            Err(e)
                if matches!(e.kind(), PublishErrorKind::WrongLastSequence | PublishErrorKind::WrongLastMessageId) =>
            {
                // Nothing of this pack was stored.
                chain = None;
                after_refusal = true;
                refused.extend(flight.appends);
            }
            Err(e) if e.kind() == PublishErrorKind::StreamNotFound => {
                // Nobody took the pack: the log is gone, or its stream is between leaders.
                chain = None;
                match shared.sealed(&log).await {
                    Err(StoreError::NoSuchLog(id)) => {
                        shared.forget(id);
                        fail_all(flight.appends, &StoreError::NoSuchLog(id));
                    }
                    // Sealed by a reshard: it takes no appends again, but stays readable.
                    Ok(true) => fail_all(flight.appends, &StoreError::NoSuchLog(log.id)),
                    _ => {
                        let e = nats_error(format!("log {:?} has no stream leader now", log.id));
                        let (retry, give_up): (Vec<_>, Vec<_>) =
                            flight.appends.into_iter().partition(|p| p.queued_at.elapsed() < LEADERLESS_RETRY);
                        fail_all(give_up, &e);
                        // Retried like a refused pack: back in front, after a pause.
                        refused.extend(retry);
                    }
                }
            }
            Err(e) => {
                // Unknown outcome (a timeout during an election): learn the end again.
                chain = None;
                fail_all(flight.appends, &nats_error(e));
            }
        }
    }
}

/// Frames `appends` as the chain's next pack and sends it; the acknowledgement is awaited by
/// the caller. On failure the appends come back with the error.
async fn publish(
    shared: &Shared,
    log: &LogState,
    chain: &mut Chain,
    appends: Vec<Pending>,
    max_payload: usize,
) -> std::result::Result<InFlight, (Vec<Pending>, StoreError)> {
    let count: usize = appends.iter().map(|p| p.records.len()).sum();
    let bytes: usize = appends.iter().map(|p| p.bytes).sum();
    if bytes > max_payload {
        let e = nats_error(format!("an append of {bytes} bytes does not fit the server's max_payload"));
        return Err((appends, e));
    }
    let arrival_ms = appends.iter().map(|p| p.now_ms).fold(chain.view.last_arrival_ms, u64::max);
    let meta = PackMeta { first_pos: chain.view.end, count: count as u32, arrival_ms, writer: shared.node_id };
    let payload = wire::encode_pack(meta, appends.iter().flat_map(|p| p.records.iter()));
    let mut headers = HeaderMap::new();
    headers.insert("Nats-Expected-Last-Sequence", chain.view.last_seq.to_string().as_str());
    headers.insert(wire::PACK_META_HEADER, meta.header_value().as_str());
    let sent =
        tokio::time::timeout(REQUEST_TIMEOUT, shared.js.publish_with_headers(log.subject.clone(), headers, payload))
            .await;
    let ack = match sent {
        Ok(Ok(ack)) => ack,
        Ok(Err(e)) => return Err((appends, nats_error(e))),
        Err(_) => return Err((appends, nats_error("publish timed out"))),
    };
    let seq = chain.view.last_seq + 1;
    chain.view =
        WriterView { last_seq: seq, end: meta.end(), last_arrival_ms: arrival_ms, last_writer: shared.node_id };
    Ok(InFlight { ack: Box::pin(std::future::IntoFuture::into_future(ack)), seq, meta, appends })
}
