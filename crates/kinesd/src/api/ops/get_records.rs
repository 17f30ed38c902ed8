//! GetRecords: up to Limit records (10,000) and 10 MiB from an iterator, a fresh iterator on
//! every call, and at the end of a closed shard a null NextShardIterator with its ChildShards.

use crate::api::common::hash_range_view;
use crate::api::model::{ChildShard, GetRecordsInput, GetRecordsOutput, Record};
use crate::engine::Engine;
use crate::engine::catalog::shard_id;
use crate::engine::records::FLAG_ENCRYPTED;
use crate::error::Result;
use crate::protocol::Timestamp;

const DEFAULT_LIMIT: usize = 10_000;

pub async fn handle(engine: &Engine, input: GetRecordsInput) -> Result<GetRecordsOutput> {
    let iterator = input.shard_iterator.unwrap_or_default();
    let limit = input.limit.map_or(DEFAULT_LIMIT, |l| l as usize);
    let page = engine.get_records(&iterator, limit).await?;
    let mut records = Vec::with_capacity(page.records.len());
    for r in page.records {
        let mut sequence_number = String::with_capacity(56);
        page.shard.sequence_number(r.position, r.arrival_ms).write_decimal(&mut sequence_number);
        records.push(Record {
            sequence_number,
            approximate_arrival_timestamp: Some(Timestamp { millis: r.arrival_ms as i64 }),
            partition_key: String::from_utf8_lossy(&r.partition_key).into_owned(),
            data: r.data,
            encryption_type: (r.flags & FLAG_ENCRYPTED != 0).then(|| "KMS".to_owned()),
        });
    }
    let child_shards = (page.next_iterator.is_none()).then(|| {
        page.child_shards
            .iter()
            .map(|c| ChildShard {
                shard_id: shard_id(c.index),
                parent_shards: c.parents.iter().map(|&p| shard_id(p)).collect(),
                hash_key_range: hash_range_view(&c.range),
            })
            .collect()
    });
    Ok(GetRecordsOutput {
        records,
        next_shard_iterator: page.next_iterator,
        millis_behind_latest: Some(page.millis_behind_latest),
        child_shards,
    })
}
