//! Pieces several operations share: naming the stream a request is about (and authorizing the
//! request on it, see `access`).

use crate::api::{Context, access};
use crate::engine::Engine;
use crate::engine::catalog::{Stream, StreamKey, shard_id};
use crate::engine::consumers::{Consumer, ConsumerRef};
use crate::error::{KinesisError, Result};
use crate::protocol::Timestamp;
use crate::protocol::model;

/// The stream a request names by `StreamName` (in the caller's account), `StreamARN` (in the
/// account the ARN names) or both (which must agree), once the caller is authorized to perform
/// the request's action on it.
pub async fn stream_key(ctx: &Context, name: Option<&str>, arn: Option<&str>) -> Result<StreamKey> {
    let key = named_stream(ctx, name, arn)?;
    access::stream(ctx, &key).await?;
    Ok(key)
}

/// [`stream_key`] without the authorization.
fn named_stream(ctx: &Context, name: Option<&str>, arn: Option<&str>) -> Result<StreamKey> {
    let from_arn = match arn {
        Some(arn) => Some(stream_key_from_arn(ctx, arn)?),
        None => None,
    };
    match (name, from_arn) {
        (Some(name), Some(key)) if name != key.name => {
            Err(KinesisError::stream_arn_mismatch(arn.unwrap_or_default(), name))
        }
        (_, Some(key)) => Ok(key),
        (Some(name), None) => Ok(StreamKey::new(ctx.caller.account_id.clone(), name)),
        (None, None) => Err(KinesisError::stream_not_named()),
    }
}

/// `arn:aws:kinesis:<region>:<account>:stream/<name>`; a stream of another region is one this
/// server does not have, and so is one of another account when no credentials are configured
/// (there is then one account).
fn stream_key_from_arn(ctx: &Context, arn: &str) -> Result<StreamKey> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let resource = parts.get(5).and_then(|r| r.strip_prefix("stream/"));
    match (parts.as_slice(), resource) {
        ([_, _, "kinesis", region, account, _], Some(name)) if !name.is_empty() && !name.contains('/') => {
            if !serves(ctx, region, account) {
                return Err(KinesisError::stream_not_found(name, account));
            }
            Ok(StreamKey::new(*account, name))
        }
        _ => Err(KinesisError::stream_arn_invalid(arn)),
    }
}

/// Whether an ARN's region and account can name a resource of this server for this caller.
fn serves(ctx: &Context, region: &str, account: &str) -> bool {
    region == ctx.engine.config.region && (ctx.caller.principal.is_some() || account == ctx.caller.account_id)
}

/// A shard as DescribeStream and ListShards show it.
pub fn shard_view(shard: &crate::engine::catalog::Shard) -> model::Shard {
    model::Shard {
        shard_id: shard.id(),
        parent_shard_id: shard.parent.map(shard_id),
        adjacent_parent_shard_id: shard.adjacent_parent.map(shard_id),
        hash_key_range: hash_range_view(&shard.range),
        sequence_number_range: model::SequenceNumberRange {
            starting_sequence_number: shard.starting_sequence_number().to_string(),
            ending_sequence_number: shard.ending_sequence_number().map(|s| s.to_string()),
        },
    }
}

pub fn hash_range_view(range: &crate::engine::hash::HashKeyRange) -> model::HashKeyRange {
    model::HashKeyRange { starting_hash_key: range.start.to_string(), ending_hash_key: range.end.to_string() }
}

/// AWS lists `[{"ShardLevelMetrics": []}]` when no metric is enabled.
pub fn enhanced_monitoring(stream: &Stream) -> Vec<model::EnhancedMetrics> {
    vec![model::EnhancedMetrics { shard_level_metrics: Some(stream.shard_level_metrics.clone()) }]
}

pub fn mode_details(stream: &Stream) -> Option<model::StreamModeDetails> {
    Some(model::StreamModeDetails { stream_mode: Some(stream.mode.as_str().to_owned()) })
}

pub fn encryption_type(stream: &Stream) -> String {
    if stream.encryption_key.is_some() { "KMS" } else { "NONE" }.to_owned()
}

/// `EncryptionType` in PutRecord and PutRecords responses: present only for a stream marked
/// KMS-encrypted.
/// AWS documents the member, but on an unencrypted stream it leaves it out (LocalStack's tests,
/// validated against AWS, skip it for that reason; kinesalite's expect `{ShardId, SequenceNumber}`).
pub fn written_encryption_type(stream: &Stream) -> Option<String> {
    stream.encryption_key.is_some().then(|| "KMS".to_owned())
}

pub fn timestamp(ms: u64) -> Timestamp {
    Timestamp { millis: ms as i64 }
}

/// Whether `shard` comes after `exclusive_start` (a shard id that need not exist; AWS's
/// shorthands are normalised, anything else compares as text, as AWS does).
pub fn after_shard(shard: &crate::engine::catalog::Shard, exclusive_start: &str) -> bool {
    match crate::engine::catalog::parse_shard_id(exclusive_start) {
        Some(index) => shard.index > index,
        None => shard.id().as_str() > exclusive_start,
    }
}

/// What a `ResourceARN` names: a stream, or a consumer of one.
pub enum Resource {
    Stream(StreamKey),
    Consumer(ConsumerRef),
}

/// The resource a `ResourceARN` (TagResource, ListTagsForResource, ...) names, once the caller
/// is authorized to perform the request's action on it (see `access`).
pub async fn resource(ctx: &Context, arn: &str) -> Result<Resource> {
    let resource = named_resource(ctx, arn)?;
    match &resource {
        Resource::Stream(key) => access::stream(ctx, key).await?,
        Resource::Consumer(which) => access::consumer(ctx, which).await?,
    }
    Ok(resource)
}

/// [`resource`] without the authorization. A resource of another region, or of another account
/// when no credentials are configured, is one this server does not have.
fn named_resource(ctx: &Context, arn: &str) -> Result<Resource> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let path = parts.get(5).and_then(|r| r.strip_prefix("stream/"));
    let (region, account, path) = match (parts.as_slice(), path) {
        ([_, _, "kinesis", region, account, _], Some(path)) if !path.is_empty() => (*region, *account, path),
        _ => {
            return Err(KinesisError::resource_arn_invalid(arn));
        }
    };
    let foreign = !serves(ctx, region, account);
    match path.split_once('/') {
        Some(_) if foreign => Err(KinesisError::consumer_not_found(arn, account)),
        Some(_) => named_consumer(ctx, arn).map(Resource::Consumer),
        None if foreign => Err(KinesisError::stream_not_found(path, account)),
        None => Ok(Resource::Stream(StreamKey::new(account, path))),
    }
}

/// The consumer a `ConsumerARN` names (SubscribeToShard), once the caller is authorized to
/// perform the request's action on it.
pub async fn consumer_from_arn(ctx: &Context, arn: &str) -> Result<ConsumerRef> {
    let which = named_consumer(ctx, arn)?;
    access::consumer(ctx, &which).await?;
    Ok(which)
}

/// `arn:aws:kinesis:<region>:<account>:stream/<stream>/consumer/<consumer>:<creation seconds>`;
/// a consumer of another region (or of another account when no credentials are configured), or
/// an ARN of any other form, is not found.
fn named_consumer(ctx: &Context, arn: &str) -> Result<ConsumerRef> {
    let not_found = || KinesisError::consumer_not_found(arn, &ctx.caller.account_id);
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let ([_, _, "kinesis", region, account, resource], true) =
        (parts.as_slice(), parts.len() == 6 && arn.starts_with("arn:aws"))
    else {
        return Err(not_found());
    };
    if !serves(ctx, region, account) {
        return Err(KinesisError::consumer_not_found(arn, account));
    }
    let parsed = resource.strip_prefix("stream/").and_then(|rest| {
        let (stream, rest) = rest.split_once("/consumer/")?;
        let (name, secs) = rest.rsplit_once(':')?;
        let simple = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
        (simple(stream) && simple(name)).then_some(())?;
        Some(ConsumerRef {
            stream: StreamKey::new(*account, stream),
            name: name.to_owned(),
            created_secs: Some(secs.parse().ok()?),
        })
    });
    parsed.ok_or_else(not_found)
}

/// The consumer a request names by `ConsumerARN`, or by `StreamARN` and `ConsumerName`, or by
/// all three when they agree (DescribeStreamConsumer, DeregisterStreamConsumer), once the
/// caller is authorized to perform the request's action on it.
pub async fn consumer_named(
    ctx: &Context,
    consumer_arn: Option<&str>,
    stream_arn: Option<&str>,
    consumer_name: Option<&str>,
) -> Result<ConsumerRef> {
    let which = match (consumer_arn, stream_arn, consumer_name) {
        (Some(arn), stream_arn, name) => {
            // All three may be given, "as long as they don't conflict with each other".
            let by_arn = named_consumer(ctx, arn)?;
            let stream = stream_arn.map(|s| named_stream(ctx, None, Some(s))).transpose()?;
            if stream.is_some_and(|s| s != by_arn.stream) || name.is_some_and(|n| n != by_arn.name) {
                return Err(KinesisError::consumer_arn_mismatch(arn));
            }
            by_arn
        }
        (None, Some(stream_arn), Some(name)) => {
            let stream = named_stream(ctx, None, Some(stream_arn))?;
            ConsumerRef { stream, name: name.to_owned(), created_secs: None }
        }
        _ => return Err(KinesisError::consumer_not_named()),
    };
    access::consumer(ctx, &which).await?;
    Ok(which)
}

/// A consumer as RegisterStreamConsumer and ListStreamConsumers show it.
pub fn consumer_view(engine: &Engine, consumer: &Consumer) -> model::Consumer {
    model::Consumer {
        consumer_name: consumer.name.clone(),
        consumer_arn: engine.consumer_arn(consumer),
        consumer_status: consumer.status.as_str().to_owned(),
        consumer_creation_timestamp: timestamp(consumer.created_ms),
    }
}

/// Tags as a list of `{Key, Value}`, in key order.
pub fn tags_view(tags: &[(String, String)]) -> Vec<model::Tag> {
    let mut tags: Vec<&(String, String)> = tags.iter().collect();
    tags.sort();
    tags.into_iter().map(|(k, v)| model::Tag { key: k.clone(), value: Some(v.clone()) }).collect()
}

/// A stream's tags as a list of `{Key, Value}`, in key order.
pub fn tag_list(stream: &Stream) -> Vec<model::Tag> {
    tags_view(&stream.tags)
}

/// StartStreamEncryption and StopStreamEncryption name the KMS key as a key ARN, an alias ARN,
/// a key id or an alias name (`alias/aws/kinesis` is Kinesis's AWS-managed key). kinesd does not
/// talk to KMS, so any well-formed identifier is a key; anything else is one KMS cannot find.
pub fn kms_key(encryption_type: Option<&str>, key_id: Option<&str>) -> Result<String> {
    use std::sync::LazyLock;
    static KEY_FORMS: LazyLock<regex::Regex> = LazyLock::new(|| {
        regex::Regex::new(concat!(
            r"^(?:alias/[a-zA-Z0-9/_-]+",
            r"|arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(?:key/[a-zA-Z0-9-]+|alias/[a-zA-Z0-9/_-]+)",
            r"|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
            r"|mrk-[0-9a-fA-F]{32})$"
        ))
        .expect("KMS key pattern")
    });
    let encryption_type = encryption_type.unwrap_or_default();
    if encryption_type != "KMS" {
        return Err(KinesisError::encryption_type_unsupported(encryption_type));
    }
    let key = key_id.unwrap_or_default();
    if !KEY_FORMS.is_match(key) {
        return Err(KinesisError::kms_key_not_found(key));
    }
    Ok(key.to_owned())
}

pub fn commitment_view(c: crate::engine::account::Commitment) -> model::MinimumThroughputBillingCommitmentOutput {
    model::MinimumThroughputBillingCommitmentOutput {
        status: c.status.as_str().to_owned(),
        started_at: c.started_ms.map(timestamp),
        ended_at: c.ended_ms.map(timestamp),
        earliest_allowed_end_at: c.earliest_allowed_end_ms.map(timestamp),
    }
}
