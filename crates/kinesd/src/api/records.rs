//! Checks PutRecord and PutRecords share.

use bytes::Bytes;

use crate::engine::catalog::Stream;
use crate::engine::hash::HashKey;
use crate::error::{KinesisError, Result};

/// An ExplicitHashKey (already matching the model's pattern) must lie in [0, 2^128-1].
pub fn explicit_hash_key(value: Option<&str>) -> Result<Option<HashKey>> {
    match value {
        None => Ok(None),
        Some(s) => HashKey::parse_decimal(s).map(Some).map_err(|_| KinesisError::explicit_hash_key_out_of_range(s)),
    }
}

/// A record (data plus partition key) may not exceed the stream's MaxRecordSizeInKiB.
pub fn check_record_size(stream: &Stream, partition_key: &str, data: &Bytes) -> Result<()> {
    let limit = stream.max_record_kib as usize * 1024;
    let size = data.len() + partition_key.len();
    if size > limit {
        return Err(KinesisError::record_too_large(limit));
    }
    Ok(())
}
