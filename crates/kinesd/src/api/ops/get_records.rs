//! GetRecords: up to Limit records (10,000) and 10 MiB from an iterator, a fresh iterator on
//! every call, and at the end of a closed shard a null NextShardIterator with its ChildShards.

use crate::api::common::{hash_range_view, stream_key};
use crate::api::records::encode_records;
use crate::api::{Context, access};
use crate::engine::catalog::shard_id;
use crate::engine::records::RecordsPage;
use crate::error::Result;
use crate::protocol::encode::{Encode, Encoder};
use crate::protocol::model::{ChildShard, GetRecordsInput};

const DEFAULT_LIMIT: usize = 10_000;

pub async fn handle(ctx: &Context, input: GetRecordsInput) -> Result<RecordsReply> {
    let engine = &*ctx.engine;
    let iterator = input.shard_iterator.unwrap_or_default();
    let limit = input.limit.map_or(DEFAULT_LIMIT, |l| l as usize);
    // A StreamARN of another region, or a malformed one, is refused as every operation refuses
    // it; the stream it names must then be the iterator's.
    let named = match input.stream_arn.as_deref() {
        Some(arn) => Some((stream_key(ctx, None, Some(arn)).await?, arn)),
        None => None,
    };
    // A read is authorized against the stream the iterator reads: an iterator of another
    // account's stream reads only what that stream's policy lets the caller read. (Without
    // credentials there is nothing to authorize, and the iterator is opened only once.)
    if ctx.caller.principal.is_some()
        && let Some((key, _)) = engine.iterator_target(&iterator)
        && named.as_ref().is_none_or(|(named, _)| *named != key)
    {
        access::stream(ctx, &key).await?;
    }
    let page = engine.get_records(&iterator, limit, named.as_ref().map(|(key, arn)| (key, *arn))).await?;
    let child_shards = page.next_iterator.is_none().then(|| {
        page.child_shards
            .iter()
            .map(|c| ChildShard {
                shard_id: shard_id(c.index),
                parent_shards: c.parents.iter().map(|&p| shard_id(p)).collect(),
                hash_key_range: hash_range_view(&c.range),
            })
            .collect()
    });
    Ok(RecordsReply { page, child_shards })
}

/// The GetRecords response, written straight from the records read: the same document as the
/// model's `GetRecordsOutput` (members in its order) without a `Record` per record — no
/// String for each sequence number and partition key on the read path.
pub struct RecordsReply {
    page: RecordsPage,
    child_shards: Option<Vec<ChildShard>>,
}

impl Encode for RecordsReply {
    fn encode<E: Encoder>(&self, e: &mut E) {
        e.begin_struct();
        e.field("Records");
        encode_records(e, &self.page.shard, &self.page.records);
        if let Some(next) = &self.page.next_iterator {
            e.field("NextShardIterator");
            e.string(next);
        }
        e.field("MillisBehindLatest");
        e.int(self.page.millis_behind_latest);
        if let Some(children) = &self.child_shards {
            e.field("ChildShards");
            children.encode(e);
        }
        e.end_struct();
    }

    fn size_hint(&self) -> usize {
        let records: usize = self.page.records.iter().map(|r| r.data.len() * 4 / 3 + r.partition_key.len() + 160).sum();
        records + 512
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::catalog::Shard;
    use crate::engine::hash::HashKeyRange as Range;
    use crate::engine::records::FLAG_ENCRYPTED;
    use crate::protocol::Codec;
    use crate::protocol::Timestamp;
    use crate::protocol::model::{GetRecordsOutput, HashKeyRange, Record};
    use crate::store::{LogId, StoredRecord};
    use bytes::Bytes;

    #[test]
    fn the_reply_is_the_model_document() {
        let shard = Shard {
            index: 2,
            log: LogId(1),
            range: Range { start: 0, end: 10 },
            parent: None,
            adjacent_parent: None,
            created_ms: 1_700_000_000_000,
            closed: None,
        };
        let records = vec![
            StoredRecord {
                position: 0,
                arrival_ms: 1_700_000_000_123,
                partition_key: Bytes::from("pk"),
                data: Bytes::from("\x00hi"),
                flags: 0,
            },
            StoredRecord {
                position: 1,
                arrival_ms: 1_700_000_000_124,
                partition_key: Bytes::from("k\"2"),
                data: Bytes::new(),
                flags: FLAG_ENCRYPTED,
            },
        ];
        let children = vec![ChildShard {
            shard_id: shard_id(3),
            parent_shards: vec![shard_id(2)],
            hash_key_range: HashKeyRange { starting_hash_key: "0".into(), ending_hash_key: "10".into() },
        }];
        for (next, child_shards) in [(Some("it".to_owned()), None), (None, Some(children))] {
            let model = GetRecordsOutput {
                records: records
                    .iter()
                    .map(|r| Record {
                        sequence_number: shard.sequence_number(r.position, r.arrival_ms).to_string(),
                        approximate_arrival_timestamp: Some(Timestamp { millis: r.arrival_ms as i64 }),
                        data: r.data.clone(),
                        partition_key: String::from_utf8_lossy(&r.partition_key).into_owned(),
                        encryption_type: (r.flags & FLAG_ENCRYPTED != 0).then(|| "KMS".to_owned()),
                    })
                    .collect(),
                next_shard_iterator: next.clone(),
                millis_behind_latest: Some(7),
                child_shards: child_shards.clone(),
            };
            let page = RecordsPage {
                shard: shard.clone(),
                records: records.clone(),
                next_iterator: next,
                millis_behind_latest: 7,
                child_shards: Vec::new(),
            };
            let reply = RecordsReply { page, child_shards };
            for codec in [Codec::Json, Codec::Cbor] {
                assert_eq!(codec.encode(&reply, 64), codec.encode(&model, 64), "{codec:?}");
            }
        }
    }
}
