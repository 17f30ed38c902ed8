//! ListTagsForStream: tags in key order, paged by ExclusiveStartTagKey and Limit.

use crate::api::Context;
use crate::api::common::stream_key;
use crate::error::Result;
use crate::protocol::model::{ListTagsForStreamInput, ListTagsForStreamOutput, Tag};

const DEFAULT_LIMIT: usize = 50;

pub async fn handle(ctx: &Context, input: ListTagsForStreamInput) -> Result<ListTagsForStreamOutput> {
    let engine = &*ctx.engine;
    // Sees what other nodes of a cluster changed before this request (no-op on one node).
    engine.sync_catalog().await;
    let name = stream_key(ctx, input.stream_name.as_deref(), input.stream_arn.as_deref()).await?;
    let stream = engine.stream(&name).await?;
    let mut tags: Vec<&(String, String)> = stream.tags.iter().collect();
    tags.sort();
    let after = input.exclusive_start_tag_key.as_deref();
    let mut listed: Vec<_> = tags.into_iter().filter(|(k, _)| after.is_none_or(|a| k.as_str() > a)).collect();
    let limit = input.limit.map_or(DEFAULT_LIMIT, |l| l as usize);
    let has_more_tags = listed.len() > limit;
    listed.truncate(limit);
    Ok(ListTagsForStreamOutput {
        tags: listed.into_iter().map(|(k, v)| Tag { key: k.clone(), value: Some(v.clone()) }).collect(),
        has_more_tags,
    })
}
