//! ListStreams: stream names in lexicographic order, paged by Limit and
//! ExclusiveStartStreamName or NextToken, with a summary of each.

use crate::api::common::{mode_details, timestamp};
use crate::api::page;
use crate::api::{Context, access};
use crate::error::Result;
use crate::protocol::model::{ListStreamsInput, ListStreamsOutput, StreamSummary};

const DEFAULT_LIMIT: usize = 100;

pub async fn handle(ctx: &Context, input: ListStreamsInput) -> Result<ListStreamsOutput> {
    let engine = &*ctx.engine;
    // Sees what other nodes of a cluster changed before this request (no-op on one node).
    engine.sync_catalog().await;
    access::account(ctx, &access::all_streams_arn(ctx)).await?;
    let account = &ctx.caller.account_id;
    let after = match input.next_token.as_deref() {
        Some(token) => Some(page::open(engine, token, Some(account))?.after),
        None => input.exclusive_start_stream_name.clone(),
    };
    let limit = input.limit.map_or(DEFAULT_LIMIT, |l| l as usize);
    let streams = engine.account_streams(account).await?;
    let mut listed: Vec<_> = streams.iter().filter(|s| after.as_deref().is_none_or(|a| s.name.as_str() > a)).collect();
    let has_more_streams = listed.len() > limit;
    listed.truncate(limit);
    let next_token = match listed.last() {
        Some(last) if has_more_streams => Some(page::seal(engine, account, "", 0, last.name.clone())),
        _ => None,
    };
    Ok(ListStreamsOutput {
        stream_names: listed.iter().map(|s| s.name.clone()).collect(),
        has_more_streams,
        next_token,
        stream_summaries: Some(
            listed
                .iter()
                .map(|s| StreamSummary {
                    stream_name: s.name.clone(),
                    stream_arn: engine.stream_arn(&s.key()),
                    stream_status: s.status.as_str().to_owned(),
                    stream_mode_details: mode_details(s),
                    stream_creation_timestamp: Some(timestamp(s.created_ms)),
                })
                .collect(),
        ),
    })
}
