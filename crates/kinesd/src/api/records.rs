//! Checks PutRecord and PutRecords share, and the Records list GetRecords and
//! SubscribeToShard's events write.

use crate::engine::catalog::{Shard, Stream};
use crate::engine::hash::HashKey;
use crate::engine::records::FLAG_ENCRYPTED;
use crate::error::{KinesisError, Result};
use crate::protocol::Encoder;
use crate::store::StoredRecord;

/// An ExplicitHashKey (already matching the model's pattern) must lie in [0, 2^128-1].
pub fn explicit_hash_key(value: Option<&str>) -> Result<Option<HashKey>> {
    match value {
        None => Ok(None),
        Some(s) => HashKey::parse_decimal(s).map(Some).map_err(|_| KinesisError::explicit_hash_key_out_of_range(s)),
    }
}

/// The largest record (data plus partition key) the stream takes, in bytes: its MaxRecordSizeInKiB.
pub fn max_record_bytes(stream: &Stream) -> usize {
    stream.max_record_kib as usize * 1024
}

/// A `Records` list written straight from stored records (the model's `Record` members in its
/// order): no String per sequence number or partition key on the read path.
pub fn encode_records<E: Encoder>(e: &mut E, shard: &Shard, records: &[StoredRecord]) {
    let mut sequence = String::with_capacity(64);
    e.begin_list(records.len());
    for r in records {
        sequence.clear();
        shard.sequence_number(r.position, r.arrival_ms).write_decimal(&mut sequence);
        e.begin_struct();
        e.field("SequenceNumber");
        e.string(&sequence);
        e.field("ApproximateArrivalTimestamp");
        e.timestamp(r.arrival_ms as i64);
        e.field("Data");
        e.blob(&r.data);
        e.field("PartitionKey");
        e.string(&String::from_utf8_lossy(&r.partition_key));
        if r.flags & FLAG_ENCRYPTED != 0 {
            e.field("EncryptionType");
            e.string("KMS");
        }
        e.end_struct();
    }
    e.end_list();
}
