//! Checks PutRecord and PutRecords share.

use crate::engine::catalog::Stream;
use crate::engine::hash::HashKey;
use crate::error::{KinesisError, Result};

/// An ExplicitHashKey (already matching the model's pattern) must lie in [0, 2^128-1].
pub fn explicit_hash_key(value: Option<&str>) -> Result<Option<HashKey>> {
    match value {
        None => Ok(None),
        Some(s) => HashKey::parse_decimal(s).map(Some).map_err(|_| {
            KinesisError::InvalidArgument(format!(
                "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was {s}"
            ))
        }),
    }
}

/// The largest record (data plus partition key) the stream takes, in bytes: its MaxRecordSizeInKiB.
pub fn max_record_bytes(stream: &Stream) -> usize {
    stream.max_record_kib as usize * 1024
}

/// A record over the stream's `limit` in AWS's words, reported at `path` (`data` for PutRecord,
/// `records.N.member.data` for PutRecords): the stream's limit takes the place of the model's
/// 10 MiB in the constraint (AWS's answer quoted in awslabs/amazon-kinesis-producer#680).
pub fn record_size_violation(path: &str, limit: usize) -> String {
    format!("Value at '{path}' failed to satisfy constraint: Member must have length less than or equal to {limit}")
}

/// The ValidationException of record-size violations, listed as AWS lists violations: at most
/// ten, counted in the header.
pub fn record_size_error(mut violations: Vec<String>) -> KinesisError {
    violations.truncate(10);
    let n = violations.len();
    let plural = if n > 1 { "s" } else { "" };
    KinesisError::Validation(format!("{n} validation error{plural} detected: {}", violations.join("; ")))
}
