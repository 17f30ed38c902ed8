//! ListShards: a page of a stream's shards, optionally filtered by ShardFilter. The filters
//! that name a point in time (AT_LATEST, AT_TRIM_HORIZON, AT_TIMESTAMP) return exactly the
//! shards open at that point, which tile the hash key space — the KCL depends on it. A reshard's
//! children count as open from the instant their parents closed (their reported creation time
//! is a second later), and closed shards whose records have all expired are never listed.

use crate::api::common::{after_shard, shard_view, stream_key};
use crate::api::page;
use crate::api::{Context, access};
use crate::engine::catalog::{Shard, Stream, StreamKey, StreamStatus};
use crate::engine::now_ms;
use crate::error::{KinesisError, Result};
use crate::protocol::model::{ListShardsInput, ListShardsOutput, ShardFilterType};

const DEFAULT_MAX_RESULTS: usize = 1000;

/// Which shards a listing includes; carried inside NextTokens so later pages keep the filter.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Filter {
    All,
    /// Shards open at this instant (ms).
    OpenAt(u64),
    /// Shards open at this instant or created after it.
    From(u64),
    Latest,
}

impl Filter {
    fn admits(self, stream: &Stream, shard: &Shard, now: u64) -> bool {
        if stream.is_expired(shard, now) {
            return false;
        }
        match self {
            Filter::All => true,
            Filter::Latest => shard.is_open(),
            Filter::OpenAt(t) => stream.open_at(shard, t),
            Filter::From(t) => shard.closed.is_none_or(|c| c.closed_ms > t),
        }
    }

    fn encode(self) -> String {
        match self {
            Filter::All => "all".into(),
            Filter::Latest => "latest".into(),
            Filter::OpenAt(t) => format!("at:{t}"),
            Filter::From(t) => format!("from:{t}"),
        }
    }

    fn decode(s: &str) -> Option<Filter> {
        match s.split_once(':') {
            None if s == "all" => Some(Filter::All),
            None if s == "latest" => Some(Filter::Latest),
            Some(("at", t)) => t.parse().ok().map(Filter::OpenAt),
            Some(("from", t)) => t.parse().ok().map(Filter::From),
            _ => None,
        }
    }
}

pub async fn handle(ctx: &Context, input: ListShardsInput) -> Result<ListShardsOutput> {
    let engine = &*ctx.engine;
    // Sees what other nodes of a cluster changed before this request (no-op on one node).
    engine.sync_catalog().await;
    let (name, after, filter) = match input.next_token.as_deref() {
        Some(token) => {
            // AWS refuses a NextToken beside anything that names the listing anew.
            for (given, member) in [
                (input.stream_name.is_some(), "StreamName"),
                (input.stream_arn.is_some(), "StreamARN"),
                (input.exclusive_start_shard_id.is_some(), "ExclusiveStartShardId"),
                // Recorded from AWS (a Java SDK v2 trace); the timestamp's text follows the pattern,
                // and the model forbids the combination.
                (input.shard_filter.is_some(), "ShardFilter"),
                (input.stream_creation_timestamp.is_some(), "StreamCreationTimestamp"),
            ] {
                if given {
                    return Err(KinesisError::next_token_combined_with(member));
                }
            }
            let page = page::open(engine, token, None)?;
            let (after, filter) = page
                .after
                .split_once('|')
                .and_then(|(a, f)| Some((a.to_owned(), Filter::decode(f)?)))
                .ok_or_else(|| KinesisError::next_token_invalid(token))?;
            let key = StreamKey::new(page.account, page.stream_name);
            access::stream(ctx, &key).await?;
            let stream = engine.stream(&key).await?;
            if stream.created_ms != page.stream_created_ms {
                return Err(engine.not_found(&key));
            }
            (key, Some(after), filter)
        }
        None => {
            if input.stream_name.is_none() && input.stream_arn.is_none() {
                return Err(KinesisError::next_token_or_stream_required());
            }
            let name = stream_key(ctx, input.stream_name.as_deref(), input.stream_arn.as_deref()).await?;
            let stream = engine.stream(&name).await?;
            let mut after = input.exclusive_start_shard_id.clone();
            let filter = match input.shard_filter.as_ref() {
                None => Filter::All,
                Some(f) => {
                    let (filter, after_shard) = shard_filter(&stream, f)?;
                    if after_shard.is_some() {
                        after = after_shard;
                    }
                    filter
                }
            };
            (name, after, filter)
        }
    };
    let stream = engine.stream(&name).await?;
    if let Some(ts) = input.stream_creation_timestamp
        && ts.millis / 1000 != stream.created_ms as i64 / 1000
    {
        return Err(engine.not_found(&name));
    }
    if matches!(stream.status, StreamStatus::Creating | StreamStatus::Deleting) {
        return Err(KinesisError::shards_not_listable(&name.name, &name.account, stream.status.as_str()));
    }
    let limit = input.max_results.map_or(DEFAULT_MAX_RESULTS, |m| m as usize).min(DEFAULT_MAX_RESULTS);
    let now = now_ms();
    let mut listed: Vec<&Shard> = stream
        .shards
        .iter()
        .filter(|s| after.as_deref().is_none_or(|a| after_shard(s, a)) && filter.admits(&stream, s, now))
        .collect();
    let more = listed.len() > limit;
    listed.truncate(limit);
    let next_token = match listed.last() {
        Some(last) if more => Some(page::seal(
            engine,
            &stream.account,
            &stream.name,
            stream.created_ms,
            format!("{}|{}", last.id(), filter.encode()),
        )),
        _ => None,
    };
    Ok(ListShardsOutput { shards: Some(listed.into_iter().map(shard_view).collect()), next_token })
}

/// Turns a ShardFilter into a filter and, for AFTER_SHARD_ID, a starting point.
fn shard_filter(stream: &Stream, f: &crate::protocol::model::ShardFilter) -> Result<(Filter, Option<String>)> {
    let kind = f.r#type.as_deref().and_then(ShardFilterType::parse);
    let trim_horizon = stream.trim_horizon_ms(now_ms()).max(stream.created_ms);
    // A time before the trim horizon lists what the horizon does: the shards open then have
    // expired, and their children alone tile the key space.
    let at = |ts: Option<crate::protocol::Timestamp>, kind: &str| -> Result<u64> {
        let ts = ts.ok_or_else(|| KinesisError::shard_filter_timestamp_missing(kind))?;
        Ok((ts.millis.max(0) as u64).max(trim_horizon))
    };
    Ok(match kind {
        Some(ShardFilterType::AfterShardId) => {
            let id = f.shard_id.as_deref().ok_or_else(KinesisError::shard_filter_shard_id_missing)?;
            (Filter::All, Some(id.to_owned()))
        }
        Some(ShardFilterType::AtTrimHorizon) => (Filter::OpenAt(trim_horizon), None),
        Some(ShardFilterType::FromTrimHorizon) | None => (Filter::All, None),
        Some(ShardFilterType::AtLatest) => (Filter::Latest, None),
        Some(ShardFilterType::AtTimestamp) => (Filter::OpenAt(at(f.timestamp, "AT_TIMESTAMP")?), None),
        Some(ShardFilterType::FromTimestamp) => (Filter::From(at(f.timestamp, "FROM_TIMESTAMP")?), None),
    })
}
