//! What a request is about — its stream and shard — read from the decoded body before the
//! operation runs, for fault rules (which match streams and shards) and for throttling
//! messages (which name the stream). Read only when faults or control-plane limits are active,
//! so the hot path does not pay for it.

use crate::engine::Engine;
use crate::engine::catalog::parse_shard_id;
use crate::protocol::model::Operation;
use crate::protocol::request::Parsed;
use crate::protocol::value::Value;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Target {
    pub stream: Option<String>,
    pub shard: Option<u32>,
}

/// The stream named by `StreamName`, `StreamARN` or `ConsumerARN`, and the shard named by
/// `ShardId` or carried in `ShardIterator`. Unreadable members simply leave the target unknown:
/// the operation reports them with AWS's errors.
pub fn of(engine: &Engine, op: Operation, parsed: &Parsed) -> Target {
    let members = match parsed {
        Parsed::Generic(Value::Map(m)) | Parsed::Cbor(Value::Map(m)) => m.as_slice(),
        Parsed::PutRecords(input) => {
            let stream = input.stream_name.clone().or_else(|| input.stream_arn.as_deref().and_then(arn_stream));
            return Target { stream, shard: None };
        }
        _ => return Target::default(),
    };
    let text = |name: &str| {
        members.iter().rev().find(|(k, _)| k == name).and_then(|(_, v)| match v {
            Value::String(s) => Some(s.as_str()),
            _ => None,
        })
    };
    let mut target = Target {
        stream: text("StreamName")
            .map(str::to_owned)
            .or_else(|| text("StreamARN").and_then(arn_stream))
            .or_else(|| text("ConsumerARN").and_then(arn_stream)),
        shard: text("ShardId").and_then(parse_shard_id),
    };
    if op == Operation::GetRecords
        && let Some((stream, shard)) = text("ShardIterator").and_then(|i| engine.iterator_target(i))
    {
        target = Target { stream: Some(stream.name), shard: Some(shard) };
    }
    target
}

/// The stream name in a stream or consumer ARN (`...:stream/<name>[/consumer/...]`).
fn arn_stream(arn: &str) -> Option<String> {
    let (_, rest) = arn.split_once(":stream/")?;
    let name = rest.split('/').next()?;
    (!name.is_empty()).then(|| name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::arn_stream;

    #[test]
    fn stream_names_come_out_of_stream_and_consumer_arns() {
        assert_eq!(arn_stream("arn:aws:kinesis:us-east-1:000000000000:stream/s1").as_deref(), Some("s1"));
        assert_eq!(
            arn_stream("arn:aws:kinesis:us-east-1:000000000000:stream/s2/consumer/c:1700000000").as_deref(),
            Some("s2")
        );
        assert_eq!(arn_stream("arn:aws:kinesis:us-east-1:000000000000:stream/"), None);
        assert_eq!(arn_stream("nonsense"), None);
    }
}
