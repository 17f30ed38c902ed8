//! SplitShard, MergeShards and UpdateShardCount: the checks AWS makes when it accepts them,
//! and the reshard itself when the stream's UPDATING phase ends.
//!
//! AWS keeps the old shards open while the stream is UPDATING (DescribeStream shows the parent
//! without an EndingSequenceNumber and no children) and closes them when it turns ACTIVE. So a
//! request only records a [`PendingChange`]; [`apply`] closes the parents at their log tips and
//! creates the children. Children report a creation time one second after the close, as AWS's
//! do, but take writes from the close on.

use super::catalog::{
    PendingChange, Shard, ShardEnd, Stream, StreamKey, StreamMode, parse_shard_id, shard_id, within_rate,
};
use super::hash::HashKey;
use super::plan::{self, Plan};
use super::{Engine, now_ms};
use crate::error::{KinesisError, Result};

/// Children's creation time is this long after their parents closed.
pub const CHILD_START_DELAY_MS: u64 = 1_000;
/// UpdateShardCount may not raise a stream above this many shards.
pub const MAX_SHARDS_PER_STREAM: usize = 10_000;
const SCALINGS_PER_DAY: usize = 10;
const DAY_MS: u64 = 86_400_000;

impl Engine {
    fn could_not_find(&self, stream: &StreamKey, shard: &str) -> KinesisError {
        KinesisError::could_not_find_shard(shard, &stream.name, &stream.account)
    }

    /// The stream must be ACTIVE and provisioned (AWS reshards on-demand streams itself).
    fn check_reshardable(&self, stream: &Stream) -> Result<()> {
        if stream.status != super::catalog::StreamStatus::Active {
            return Err(self.not_active(stream));
        }
        if stream.mode == StreamMode::OnDemand {
            return Err(KinesisError::stream_is_on_demand(&stream.name, &stream.account));
        }
        Ok(())
    }

    /// The open shard `index` of `stream`.
    fn open_shard<'a>(&self, stream: &'a Stream, index: u32) -> Result<&'a Shard> {
        let shard = stream.shard(index).ok_or_else(|| self.could_not_find(&stream.key(), &shard_id(index)))?;
        if !shard.is_open() {
            return Err(KinesisError::shard_already_resharded(&shard.id(), &stream.name, &stream.account));
        }
        Ok(shard)
    }

    pub async fn split_shard(&self, name: &StreamKey, shard_to_split: &str, new_start: &str) -> Result<()> {
        // AWS parses the shard id before it looks the stream up.
        let index = parse_shard_id(shard_to_split).ok_or_else(|| self.could_not_find(name, shard_to_split))?;
        self.modify(name, |stream, now| {
            self.check_reshardable(stream)?;
            let shard = self.open_shard(stream, index)?;
            let open = self.account_open_shards(&name.account);
            if open + 1 > self.config.shard_limit as usize {
                return Err(self.shard_limit_exceeded(&name.account, open, 1));
            }
            let range = shard.range;
            // Keys past 2^128 - 1 pass the model's pattern; they are out of range like any
            // other key at or above the shard's end.
            let key = HashKey::parse_decimal(new_start).map_or(u128::MAX, |k| k.0);
            if key <= range.start.saturating_add(1) || key >= range.end {
                return Err(KinesisError::split_key_out_of_range(
                    new_start,
                    &shard.id(),
                    &name.name,
                    &name.account,
                    range.start,
                    range.end,
                ));
            }
            self.begin_update(stream, now, PendingChange::Split { shard: index, at: key })
        })
        .await
        .map(|_| ())
    }

    pub async fn merge_shards(&self, name: &StreamKey, shard_to_merge: &str, adjacent: &str) -> Result<()> {
        let lower = parse_shard_id(shard_to_merge).ok_or_else(|| self.could_not_find(name, shard_to_merge))?;
        let upper = parse_shard_id(adjacent).ok_or_else(|| self.could_not_find(name, adjacent))?;
        self.modify(name, |stream, now| {
            self.check_reshardable(stream)?;
            let a = self.open_shard(stream, lower)?;
            let b = self.open_shard(stream, upper)?;
            // AWS requires ShardToMerge to sit directly below AdjacentShardToMerge; the inverted
            // order is refused with the same message.
            if a.range.end.checked_add(1) != Some(b.range.start) {
                return Err(KinesisError::shards_not_adjacent(&a.id(), &b.id(), &name.name, &name.account));
            }
            self.begin_update(stream, now, PendingChange::Merge { shard: lower, adjacent: upper })
        })
        .await
        .map(|_| ())
    }

    /// Returns the open shard count before the change.
    pub async fn update_shard_count(&self, name: &StreamKey, target: u32) -> Result<u32> {
        let (_, current) = self
            .modify(name, |stream, now| {
                self.check_reshardable(stream)?;
                let open = stream.open_shard_count();
                let others = self.account_open_shards(&name.account).saturating_sub(open);
                let limit = (self.config.shard_limit as usize).min(MAX_SHARDS_PER_STREAM);
                if target as usize > MAX_SHARDS_PER_STREAM
                    || others + target as usize > self.config.shard_limit as usize
                {
                    return Err(KinesisError::target_shard_count_too_high(limit, open, target));
                }
                if target as usize > open * 2 {
                    return Err(KinesisError::scale_up_too_far(open, target));
                }
                if (target as usize) * 2 < open {
                    return Err(KinesisError::scale_down_too_far(open, target));
                }
                if !within_rate(&mut stream.scalings_ms, now, DAY_MS, SCALINGS_PER_DAY) {
                    return Err(KinesisError::scaling_rate_exceeded(SCALINGS_PER_DAY, &name.name, &name.account));
                }
                stream.scalings_ms.push(now);
                self.begin_update(stream, now, PendingChange::Scale { target })?;
                Ok(open as u32)
            })
            .await?;
        Ok(current)
    }
}

/// The plan for a pending reshard of `stream`, or None when the change no longer fits the
/// stream (which the checks at request time rule out).
pub(super) fn plan_for(stream: &Stream, change: &PendingChange) -> Option<Plan> {
    let first_new = stream.shards.len() as u32;
    let open = |i: u32| stream.shard(i).filter(|s| s.is_open());
    match *change {
        PendingChange::Split { shard, at } => {
            let s = open(shard)?;
            (s.range.start < at && at <= s.range.end).then(|| plan::split(shard, s.range, at, first_new))
        }
        PendingChange::Merge { shard, adjacent } => {
            let (a, b) = (open(shard)?, open(adjacent)?);
            (a.range.end.checked_add(1) == Some(b.range.start))
                .then(|| plan::merge((shard, a.range), (adjacent, b.range), first_new))
        }
        PendingChange::Scale { target } => {
            let shards: Vec<_> = stream.open_shards().map(|s| (s.index, s.range)).collect();
            Some(plan::uniform(&shards, target, first_new))
        }
        _ => None,
    }
}

/// Carries out `plan` on `next` (the stream turning ACTIVE) and persists it. Called with the
/// control lock held.
pub(super) async fn apply(engine: &Engine, mut next: Stream, plan: Plan) -> Result<()> {
    // The children's logs first, while the parents still take writes: with a shared store a
    // sealed parent refuses every node's records until the catalog names its children, so
    // that window holds only the seal and the catalog write.
    let logs = engine.allocate_logs(plan.creates.len()).await?;
    // Writers route and append under the shared gate; with it held exclusively no append of
    // this node is in flight, and the seal below stops every other node's.
    let gate = next.gate.clone();
    let _exclusive = gate.0.write().await;
    let now = now_ms();
    for &index in &plan.closes {
        let Some(shard) = next.shards.get_mut(index as usize).filter(|s| s.index == index) else {
            continue;
        };
        // Sealing fences the log against every node's appends, not only this node's (which
        // the gate stops); a store only this engine opens just reports the tip.
        let tip = engine.store.seal_log(shard.log).await?;
        shard.closed = Some(ShardEnd { end_position: tip, closed_ms: now });
    }
    for (new, log) in plan.creates.into_iter().zip(logs) {
        next.shards.push(Shard {
            index: new.index,
            log,
            range: new.range,
            parent: Some(new.parent),
            adjacent_parent: new.adjacent_parent,
            created_ms: now + CHILD_START_DELAY_MS,
            // Short-lived shards never take a record: they close as they open.
            closed: new.transient.then_some(ShardEnd { end_position: 0, closed_ms: now }),
        });
    }
    next.next_shard_index = next.shards.len() as u32;
    engine.save(next).await.map(|_| ())
}
