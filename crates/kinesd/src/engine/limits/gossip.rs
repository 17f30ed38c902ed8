//! Usage gossip: how the nodes of a cluster share their limits (`--enforce-limits` with
//! `--nats-url`, `docs/decisions/0021-cluster-limits.md`).
//!
//! Every node keeps its own token buckets and admits or refuses locally, as a single node
//! does. Every [`FLUSH`], it publishes on the store's peer bus (core NATS, `P.limits.usage`)
//! what each of its buckets gave out since the last flush, and charges its own buckets with
//! what the other nodes publish ([`Limits::apply_usage`]), going into debt if need be. So
//! each node's bucket sees every node's use, late by at most FLUSH plus the delivery delay
//! `d`, and the nodes together admit, over any interval of `T` seconds since a bucket
//! appeared, at most about
//!
//! ```text
//! rate × T  +  one burst (the bucket's capacity: one second of the rate)
//!           +  what the other N-1 nodes admitted in the last FLUSH + d
//! ```
//!
//! and the last term is about (N-1)/N × rate × (FLUSH + d) under sustained overload, up to
//! (N-1) bursts when every node leaves idle at the same moment. (Per node `i`: what `i`
//! admitted plus what it heard of is at most its capacity plus its refill; what it has not
//! heard of yet is the rest.) With two nodes and AWS's 1,000 records/s per shard, 5 s of
//! overload admit at most about 6,050 records, against 6,000 on one node and 12,000
//! without gossip.
//!
//! A lost message (a node disconnected, a full queue) means its usage is never charged
//! elsewhere: that much more overshoot, nothing else. A node that stops hearing from the
//! others (the bus down) falls back to its own limits alone.
//!
//! Bounds: one message per flush (more only past [`MAX_KEYS`] keys or [`MAX_MESSAGE_BYTES`]),
//! only buckets that gave something out since the last flush (so bounded by the buckets that
//! exist); at most [`INBOX`] received messages wait to be applied, beyond which newer ones are
//! dropped (lost, as above).

use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};

use super::{CONTROL_RATES, Limits};
use crate::store::PeerBus;

/// How often a node publishes its usage. Shorter means less overshoot (see the module's
/// bound) and more messages: one per node per flush, so ten a second per node.
pub const FLUSH: Duration = Duration::from_millis(100);

/// The bus topic, under the store's prefix (`P.limits.usage` on NATS).
pub const TOPIC: &str = "limits.usage";

/// Received messages waiting to be applied (each at most [`MAX_MESSAGE_BYTES`]).
pub const INBOX: usize = 256;

/// Keys in one message; more are split over several messages.
pub const MAX_KEYS: usize = 1024;

/// Bytes of one message, far below NATS's default 1 MiB `max_payload`; more are split.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;

const VERSION: u8 = 1;

/// One bucket group, as the gossip names it.
#[derive(Debug, Clone, PartialEq)]
pub enum UsageKey {
    /// A shard's writes (records, bytes), reads (calls, bytes) and GetShardIterator calls.
    Shard { stream_created_ms: u64, shard_index: u32 },
    /// An on-demand stream's write capacity (records, bytes).
    OnDemand { stream_created_ms: u64 },
    /// A control-plane call rate (calls).
    Call { account: String, operation: &'static str, stream: Option<String> },
    /// Enhanced fan-out of a consumer on a shard (bytes delivered, subscriptions).
    Consumer { arn: String, shard_index: u32 },
}

impl UsageKey {
    fn tag(&self) -> u8 {
        match self {
            UsageKey::Shard { .. } => 1,
            UsageKey::OnDemand { .. } => 2,
            UsageKey::Call { .. } => 3,
            UsageKey::Consumer { .. } => 4,
        }
    }
}

/// How many values a key of each tag carries.
fn arity(tag: u8) -> usize {
    match tag {
        1 => 5,
        2 | 4 => 2,
        _ => 1,
    }
}

/// What one bucket group gave out since the last flush.
#[derive(Debug, Clone, PartialEq)]
pub struct Usage {
    pub key: UsageKey,
    pub used: Vec<f64>,
}

fn put_str(out: &mut BytesMut, s: &str) {
    out.put_u16_le(s.len() as u16);
    out.put_slice(s.as_bytes());
}

/// One entry, or None for a key whose strings do not fit the format (no valid name is that
/// long).
fn encode_entry(usage: &Usage) -> Option<BytesMut> {
    let strings_fit = match &usage.key {
        UsageKey::Call { account, stream, .. } => {
            account.len() <= u16::MAX as usize && stream.as_ref().is_none_or(|s| s.len() <= u16::MAX as usize)
        }
        UsageKey::Consumer { arn, .. } => arn.len() <= u16::MAX as usize,
        _ => true,
    };
    if !strings_fit {
        return None;
    }
    let mut out = BytesMut::new();
    out.put_u8(usage.key.tag());
    match &usage.key {
        UsageKey::Shard { stream_created_ms, shard_index } => {
            out.put_u64_le(*stream_created_ms);
            out.put_u32_le(*shard_index);
        }
        UsageKey::OnDemand { stream_created_ms } => out.put_u64_le(*stream_created_ms),
        UsageKey::Call { account, operation, stream } => {
            put_str(&mut out, account);
            put_str(&mut out, operation);
            match stream {
                Some(stream) => {
                    out.put_u8(1);
                    put_str(&mut out, stream);
                }
                None => out.put_u8(0),
            }
        }
        UsageKey::Consumer { arn, shard_index } => {
            put_str(&mut out, arn);
            out.put_u32_le(*shard_index);
        }
    }
    for i in 0..arity(usage.key.tag()) {
        out.put_f64_le(usage.used.get(i).copied().unwrap_or(0.0));
    }
    Some(out)
}

/// The messages carrying `usage` from node `node`: as few as [`MAX_KEYS`] and
/// [`MAX_MESSAGE_BYTES`] allow. Layout: version (u8), node (u64), key count (u16), then per
/// key a tag (u8), the key's fields (integers little-endian, strings as a u16 length and
/// UTF-8) and its values (f64), as many as the tag has.
pub fn encode(node: u64, usage: &[Usage]) -> Vec<Bytes> {
    const HEADER: usize = 1 + 8 + 2;
    let mut messages = Vec::new();
    let mut current = BytesMut::new();
    let mut count = 0usize;
    let finish = |current: &mut BytesMut, count: usize, messages: &mut Vec<Bytes>| {
        if count > 0 {
            current[9..11].copy_from_slice(&(count as u16).to_le_bytes());
            messages.push(std::mem::take(current).freeze());
        }
    };
    for entry in usage.iter().filter_map(encode_entry) {
        if count == MAX_KEYS || (count > 0 && current.len() + entry.len() > MAX_MESSAGE_BYTES) {
            finish(&mut current, count, &mut messages);
            count = 0;
        }
        if count == 0 {
            current = BytesMut::with_capacity(HEADER + entry.len());
            current.put_u8(VERSION);
            current.put_u64_le(node);
            current.put_u16_le(0);
        }
        current.extend_from_slice(&entry);
        count += 1;
    }
    finish(&mut current, count, &mut messages);
    messages
}

/// Reads a message: the sending node and its usage. Keys of operations this node does not
/// rate-limit are left out; anything malformed (short, a bad tag, a value that is negative or
/// not finite) refuses the whole message.
pub fn decode(mut message: &[u8]) -> Result<(u64, Vec<Usage>), String> {
    fn take<'a>(input: &mut &'a [u8], n: usize) -> Result<&'a [u8], String> {
        if input.len() < n {
            return Err("truncated".into());
        }
        let (head, rest) = input.split_at(n);
        *input = rest;
        Ok(head)
    }
    fn u8_(input: &mut &[u8]) -> Result<u8, String> {
        Ok(take(input, 1)?[0])
    }
    fn u16_(input: &mut &[u8]) -> Result<u16, String> {
        Ok(u16::from_le_bytes(take(input, 2)?.try_into().unwrap()))
    }
    fn u32_(input: &mut &[u8]) -> Result<u32, String> {
        Ok(u32::from_le_bytes(take(input, 4)?.try_into().unwrap()))
    }
    fn u64_(input: &mut &[u8]) -> Result<u64, String> {
        Ok(u64::from_le_bytes(take(input, 8)?.try_into().unwrap()))
    }
    fn string(input: &mut &[u8]) -> Result<String, String> {
        let n = u16_(input)? as usize;
        String::from_utf8(take(input, n)?.to_vec()).map_err(|_| "a string is not UTF-8".to_string())
    }
    let input = &mut message;
    let version = u8_(input)?;
    if version != VERSION {
        return Err(format!("version {version}"));
    }
    let node = u64_(input)?;
    let count = u16_(input)? as usize;
    let mut usage = Vec::with_capacity(count.min(MAX_KEYS));
    for _ in 0..count {
        let tag = u8_(input)?;
        let key = match tag {
            1 => Some(UsageKey::Shard { stream_created_ms: u64_(input)?, shard_index: u32_(input)? }),
            2 => Some(UsageKey::OnDemand { stream_created_ms: u64_(input)? }),
            3 => {
                let account = string(input)?;
                let operation = string(input)?;
                let stream = match u8_(input)? {
                    0 => None,
                    1 => Some(string(input)?),
                    other => return Err(format!("stream flag {other}")),
                };
                // Only operations with a rate here have a bucket to charge.
                CONTROL_RATES.iter().find(|(op, _, _)| *op == operation).map(|&(operation, _, _)| UsageKey::Call {
                    account,
                    operation,
                    stream,
                })
            }
            4 => Some(UsageKey::Consumer { arn: string(input)?, shard_index: u32_(input)? }),
            other => return Err(format!("tag {other}")),
        };
        let mut used = Vec::with_capacity(arity(tag));
        for _ in 0..arity(tag) {
            let value = f64::from_le_bytes(take(input, 8)?.try_into().unwrap());
            if !(value.is_finite() && value >= 0.0) {
                return Err(format!("value {value}"));
            }
            used.push(value);
        }
        if let Some(key) = key {
            usage.push(Usage { key, used });
        }
    }
    if !input.is_empty() {
        return Err("trailing bytes".into());
    }
    Ok((node, usage))
}

/// Publishes this node's usage every [`FLUSH`] and applies the other nodes', until `limits`
/// is dropped (the engine with it) or the bus closes the subscription. Started by the engine
/// when its store has a peer bus.
pub async fn run(limits: Weak<Limits>, bus: Arc<dyn PeerBus>) {
    let mut inbox = match bus.subscribe(TOPIC, INBOX).await {
        Ok(inbox) => inbox,
        Err(e) => {
            tracing::warn!(error = %e, "cannot hear other nodes' limits usage: limits hold per node only");
            return;
        }
    };
    // Tells this node's own messages (the bus echoes them) from the others'.
    let node: u64 = rand::random();
    let mut flush = tokio::time::interval(FLUSH);
    flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = flush.tick() => {
                let Some(limits) = limits.upgrade() else { return };
                let usage = limits.take_usage();
                drop(limits);
                for message in encode(node, &usage) {
                    if let Err(e) = bus.publish(TOPIC, message).await {
                        // Lost: only more overshoot (see the module's comment).
                        tracing::debug!(error = %e, "limits usage not published");
                    }
                }
            }
            message = inbox.recv() => {
                let Some(message) = message else {
                    tracing::warn!("the limits usage subscription ended: limits hold per node only");
                    return;
                };
                let Some(limits) = limits.upgrade() else { return };
                match decode(&message) {
                    Ok((from, usage)) if from != node => usage.iter().for_each(|u| limits.apply_usage(u)),
                    Ok(_) => {}
                    Err(e) => tracing::debug!(error = %e, "a malformed limits usage message ignored"),
                }
            }
        }
    }
}
