//! ListStreamConsumers: a stream's consumers in name order, paged by MaxResults (default 100,
//! and at most 100 whatever is asked, as botocore's documentation says) and NextToken (sealed,
//! 300 s, valid only for the stream it was issued for, never with StreamCreationTimestamp).

use crate::api::Context;
use crate::api::common::{consumer_view, stream_key};
use crate::api::page;
use crate::error::{KinesisError, Result};
use crate::protocol::model::{ListStreamConsumersInput, ListStreamConsumersOutput};

/// The default page, and the largest one.
const MAX_RESULTS: usize = 100;

pub async fn handle(ctx: &Context, input: ListStreamConsumersInput) -> Result<ListStreamConsumersOutput> {
    let engine = &*ctx.engine;
    // Sees what other nodes of a cluster changed before this request (no-op on one node).
    engine.sync_catalog().await;
    let name = stream_key(ctx, None, input.stream_arn.as_deref()).await?;
    if input.next_token.is_some() && input.stream_creation_timestamp.is_some() {
        return Err(KinesisError::next_token_combined_with("StreamCreationTimestamp"));
    }
    let stream = engine.stream(&name).await?;
    // A creation time names one incarnation of the stream: an earlier one has no consumers here.
    if let Some(created) = input.stream_creation_timestamp
        && created.millis.div_euclid(1000) != (stream.created_ms / 1000) as i64
    {
        return Err(engine.not_found(&name));
    }
    let after = match input.next_token.as_deref() {
        Some(token) => {
            let page = page::open(engine, token, Some(&name.account))?;
            if page.stream_name != name.name {
                return Err(KinesisError::next_token_invalid(token));
            }
            Some(page.after)
        }
        None => None,
    };
    let limit = input.max_results.map_or(MAX_RESULTS, |m| (m as usize).min(MAX_RESULTS));
    let consumers = engine.consumers_of(&name).await?;
    let mut listed: Vec<_> =
        consumers.iter().filter(|c| after.as_deref().is_none_or(|a| c.name.as_str() > a)).collect();
    let more = listed.len() > limit;
    listed.truncate(limit);
    let next_token = match listed.last() {
        Some(last) if more => Some(page::seal(engine, &name.account, &name.name, stream.created_ms, last.name.clone())),
        _ => None,
    };
    Ok(ListStreamConsumersOutput {
        consumers: Some(listed.iter().map(|c| consumer_view(engine, c)).collect()),
        next_token,
    })
}
