//! Checks PutRecord and PutRecords share.

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

/// The largest record (data plus partition key) the stream takes, in bytes: its MaxRecordSizeInKiB.
pub fn max_record_bytes(stream: &Stream) -> usize {
    stream.max_record_kib as usize * 1024
}
