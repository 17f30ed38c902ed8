//! Every message kinesd sends, one named constructor each, grouped by theme.
//!
//! Clients and tests compare AWS's messages byte for byte (a missing final period is part of
//! the text), so each text is written exactly once, here. A constructor's doc comment says
//! when AWS sends it and points to the section of `docs/aws-behaviour.md` that records the
//! text; where no AWS source exists, the doc comment says the wording is kinesd's own.
//! Arguments are the facts the message shows (names, ids, counts); the account and region are
//! passed in because the text shows the ones the request was about.

use std::fmt::Display;

use super::java_date::java_date;
use super::{INTERNAL_FAILURE_MESSAGE, KinesisError};

/// Streams: existence, status, and how a request names one.
impl KinesisError {
    /// A request names a stream the account does not have (or one that is still CREATING, for
    /// the data plane) (aws-behaviour.md §0.5).
    pub fn stream_not_found(stream: &str, account: &str) -> Self {
        KinesisError::ResourceNotFound(format!("Stream {stream} under account {account} not found."))
    }

    /// CreateStream names a stream that exists (aws-behaviour.md §0.5, §2).
    pub fn stream_already_exists(stream: &str, account: &str) -> Self {
        KinesisError::ResourceInUse(format!("Stream {stream} under account {account} already exists."))
    }

    /// A change of a stream that is not ACTIVE; `status` as AWS spells it, e.g. `UPDATING`
    /// (aws-behaviour.md §0.5).
    pub fn stream_not_active(stream: &str, account: &str, status: &str) -> Self {
        KinesisError::ResourceInUse(format!(
            "Stream {stream} under account {account} not ACTIVE, instead in state {status}"
        ))
    }

    /// ListShards on a stream that is CREATING or DELETING. AWS answers ResourceInUse
    /// (aws-behaviour.md §7, an inference); the text is kinesd's own, as no AWS source records it.
    pub fn shards_not_listable(stream: &str, account: &str, status: &str) -> Self {
        KinesisError::ResourceInUse(format!("Stream {stream} under account {account} is in {status} state."))
    }

    /// A request gives neither StreamName nor StreamARN. No AWS source records the text; this
    /// is ferrokinesis's wording (aws-behaviour.md §1.2).
    pub fn stream_not_named() -> Self {
        KinesisError::InvalidArgument("Either StreamName or StreamARN must be provided.".to_owned())
    }

    /// StreamName and StreamARN name different streams. No AWS evidence exists
    /// (aws-behaviour.md §1.2); the text is kinesd's own.
    pub fn stream_arn_mismatch(arn: &str, stream: &str) -> Self {
        KinesisError::InvalidArgument(format!("StreamARN {arn} does not match StreamName {stream}."))
    }

    /// A StreamARN that is not a Kinesis stream ARN. The text is kinesd's own; no AWS source
    /// records it.
    pub fn stream_arn_invalid(arn: &str) -> Self {
        KinesisError::InvalidArgument(format!("Invalid StreamARN {arn}."))
    }

    /// CreateStream of a PROVISIONED stream without a ShardCount. The text is kinesd's own; no
    /// AWS source records it.
    pub fn shard_count_required() -> Self {
        KinesisError::InvalidArgument("ShardCount is required for PROVISIONED streams.".to_owned())
    }

    /// CreateStream with a ShardCount for an ON_DEMAND stream. The text is kinesd's own; no
    /// AWS source records it.
    pub fn shard_count_with_on_demand() -> Self {
        KinesisError::Validation("ShardCount is not supported for streams with ON_DEMAND capacity mode.".to_owned())
    }

    /// CreateStream with a ShardCount below 1, in the model's validation format
    /// (aws-behaviour.md §2, §0.2).
    pub fn shard_count_below_one(shard_count: i32) -> Self {
        KinesisError::Validation(format!(
            "1 validation error detected: Value '{shard_count}' at 'shardCount' failed to satisfy constraint: Member must have value greater than or equal to 1"
        ))
    }
}

/// Shards: ids that name no shard, and ListShards' filters.
impl KinesisError {
    /// A shard id that cannot be parsed (echoed raw), or SplitShard/MergeShards naming a shard
    /// the stream does not have (aws-behaviour.md §0.5).
    pub fn could_not_find_shard(shard: &str, stream: &str, account: &str) -> Self {
        KinesisError::ResourceNotFound(format!(
            "Could not find shard {shard} in stream {stream} under account {account}."
        ))
    }

    /// GetShardIterator or GetRecords on a shard (or stream) that does not exist; no final
    /// period, as AWS writes it (aws-behaviour.md §0.5, §13, §14).
    pub fn shard_does_not_exist(shard: &str, stream: &str, account: &str) -> Self {
        KinesisError::ResourceNotFound(format!(
            "Shard {shard} in stream {stream} under account {account} does not exist"
        ))
    }

    /// ListShards with a ShardFilter of type AT_TIMESTAMP or FROM_TIMESTAMP (`filter_type`)
    /// but no Timestamp. The text is kinesd's own; no AWS source records it.
    pub fn shard_filter_timestamp_missing(filter_type: &str) -> Self {
        KinesisError::InvalidArgument(format!("Timestamp must be specified for ShardFilter type {filter_type}."))
    }

    /// ListShards with a ShardFilter of type AFTER_SHARD_ID but no ShardId. The text is
    /// kinesd's own; no AWS source records it.
    pub fn shard_filter_shard_id_missing() -> Self {
        KinesisError::InvalidArgument("ShardId must be specified for ShardFilter type AFTER_SHARD_ID.".to_owned())
    }
}

/// Records, iterators and sequence numbers: PutRecord(s), GetShardIterator, GetRecords.
impl KinesisError {
    /// An ExplicitHashKey at or above 2^128; PutRecords fails as a whole
    /// (aws-behaviour.md §11, §12).
    pub fn explicit_hash_key_out_of_range(value: &str) -> Self {
        KinesisError::InvalidArgument(format!(
            "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was {value}"
        ))
    }

    /// Records (data plus partition key) larger than the stream's maximum of `limit` bytes, one
    /// violation per record at its path (`data` for PutRecord, `records.N.member.data` for
    /// PutRecords), at most ten as AWS lists violations, in current AWS's format, which omits
    /// the value (aws-behaviour.md §0.2; the PutRecords form is AWS's answer quoted in
    /// awslabs/amazon-kinesis-producer#680).
    pub fn records_over_size_limit<'a>(paths: impl IntoIterator<Item = &'a str>, limit: usize) -> Self {
        let violations: Vec<String> = paths
            .into_iter()
            .take(10)
            .map(|path| {
                format!("Value at '{path}' failed to satisfy constraint: Member must have length less than or equal to {limit}")
            })
            .collect();
        let n = violations.len();
        let plural = if n > 1 { "s" } else { "" };
        KinesisError::Validation(format!("{n} validation error{plural} detected: {}", violations.join("; ")))
    }

    /// PutRecords whose records add up to more than 10 MiB. Only moto records a text, for the
    /// old 5 MB limit (aws-behaviour.md §12); this is that text with today's limit.
    pub fn records_too_large() -> Self {
        KinesisError::InvalidArgument("Records size exceeds 10 MB limit".to_owned())
    }

    /// PutRecord with a SequenceNumberForOrdering that does not decode or comes from the future
    /// (aws-behaviour.md §11).
    pub fn ordering_sequence_number_invalid(sequence: &str, stream: &str, account: &str) -> Self {
        KinesisError::InvalidArgument(format!(
            "ExclusiveMinimumSequenceNumber {sequence} used in PutRecord on stream {stream} under account {account} is invalid."
        ))
    }

    /// GetShardIterator with a ShardIteratorType that is none of the five. The model's enum
    /// check refuses it first, so clients do not see this; the text is kinesd's own.
    pub fn iterator_type_invalid() -> Self {
        KinesisError::InvalidArgument("Invalid ShardIteratorType.".to_owned())
    }

    /// GetShardIterator whose type (`iterator_type`, e.g. `AT_SEQUENCE_NUMBER`) and
    /// StartingSequenceNumber disagree: a sequence type without one, or TRIM_HORIZON/LATEST
    /// with one (`sequence_given`) (aws-behaviour.md §13).
    pub fn iterator_arguments_mismatch(iterator_type: &str, sequence_given: bool) -> Self {
        let detail = if sequence_given { "also a StartingSequenceNumber" } else { "no StartingSequenceNumber" };
        KinesisError::InvalidArgument(format!(
            "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingSequenceNumber or (2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. Request specified {iterator_type} and {detail}."
        ))
    }

    /// GetShardIterator of type AT_TIMESTAMP without a Timestamp (aws-behaviour.md §13).
    pub fn iterator_timestamp_missing() -> Self {
        KinesisError::InvalidArgument(
            "Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. Current request has no timestamp parameter.".to_owned(),
        )
    }

    /// GetShardIterator of type AT_TIMESTAMP at a time after `now_ms`, both in milliseconds
    /// (aws-behaviour.md §13).
    pub fn iterator_timestamp_in_future(timestamp_ms: i64, now_ms: i64) -> Self {
        KinesisError::InvalidArgument(format!(
            "The timestampInMillis parameter cannot be greater than the currentTimestampInMillis. timestampInMillis: {timestamp_ms}, currentTimestampInMillis: {now_ms}"
        ))
    }

    /// A StartingSequenceNumber that encodes another shard of the stream (`encoded_shard`, as
    /// AWS prints it, which may be `shardId--02147483648`) (aws-behaviour.md §13).
    pub fn sequence_number_of_other_shard(encoded_shard: &str, shard: &str) -> Self {
        KinesisError::InvalidArgument(format!(
            "Invalid StartingSequenceNumber. It encodes {encoded_shard}, while it was used in a call to a shard with {shard}"
        ))
    }

    /// A StartingSequenceNumber that does not decode (a malformed number, an 8 in the index,
    /// a huge date) (aws-behaviour.md §13).
    pub fn sequence_number_invalid(sequence: &str, shard: &str, stream: &str, account: &str) -> Self {
        KinesisError::InvalidArgument(format!(
            "StartingSequenceNumber {sequence} used in GetShardIterator on shard {shard} in stream {stream} under account {account} is invalid."
        ))
    }

    /// A StartingSequenceNumber of the right shard index that another stream (or an earlier
    /// shard of the same name) issued (aws-behaviour.md §13).
    pub fn sequence_number_of_other_stream(sequence: &str, shard: &str, stream: &str, account: &str) -> Self {
        KinesisError::InvalidArgument(format!(
            "StartingSequenceNumber {sequence} used in GetShardIterator on shard {shard} in stream {stream} under account {account} is invalid because it did not come from this stream."
        ))
    }

    /// GetRecords with a StreamARN that names another stream than its iterator's. No AWS
    /// answer is on record; the type and text are kinesd's own (aws-behaviour.md §14).
    pub fn stream_arn_not_the_iterators(arn: &str, iterator_stream: &str) -> Self {
        KinesisError::InvalidArgument(format!(
            "StreamARN {arn} does not match the stream {iterator_stream} of the ShardIterator."
        ))
    }

    /// GetRecords with an iterator kinesd did not issue (aws-behaviour.md §14).
    pub fn shard_iterator_invalid() -> Self {
        KinesisError::InvalidArgument("Invalid ShardIterator.".to_owned())
    }

    /// GetRecords with an iterator issued at `issued_ms` and older than `tolerated_ms` at
    /// `now_ms`; the times print as Java's `Date.toString()` in UTC (aws-behaviour.md §14).
    pub fn iterator_expired(issued_ms: u64, now_ms: u64, tolerated_ms: u64) -> Self {
        KinesisError::ExpiredIterator(format!(
            "Iterator expired. The iterator was created at time {} while right now it is {} which is further in the future than the tolerated delay of {tolerated_ms} milliseconds.",
            java_date(issued_ms),
            java_date(now_ms)
        ))
    }
}

/// Resharding: SplitShard, MergeShards, UpdateShardCount.
impl KinesisError {
    /// A reshard of an on-demand stream, which AWS reshards itself. Only moto records the text
    /// (aws-behaviour.md §15, unverified).
    pub fn stream_is_on_demand(stream: &str, account: &str) -> Self {
        KinesisError::Validation(format!(
            "Request is invalid. Stream {stream} under account {account} is in On-Demand mode."
        ))
    }

    /// SplitShard or MergeShards naming a shard that is already closed. The text is kinesd's
    /// own; docs/aws-behaviour.md records no source for it.
    pub fn shard_already_resharded(shard: &str, stream: &str, account: &str) -> Self {
        KinesisError::InvalidArgument(format!(
            "Shard {shard} in stream {stream} under account {account} has already been merged or split, and thus is not eligible for merging or splitting."
        ))
    }

    /// SplitShard at a key outside `(start + 1, end)` of the shard's range
    /// (aws-behaviour.md §15). `new_start` is echoed as the request gave it.
    pub fn split_key_out_of_range(
        new_start: &str,
        shard: &str,
        stream: &str,
        account: &str,
        start: u128,
        end: u128,
    ) -> Self {
        KinesisError::InvalidArgument(format!(
            "NewStartingHashKey {new_start} used in SplitShard() on shard {shard} in stream {stream} under account {account} is not both greater than one plus the shard's StartingHashKey {start} and less than the shard's EndingHashKey {end}."
        ))
    }

    /// MergeShards of shards whose ranges do not meet, in either order; no final period, as
    /// AWS writes it (aws-behaviour.md §15).
    pub fn shards_not_adjacent(shard: &str, adjacent: &str, stream: &str, account: &str) -> Self {
        KinesisError::InvalidArgument(format!(
            "Shards {shard} and {adjacent} in stream {stream} under account {account} are not an adjacent pair of shards eligible for merging"
        ))
    }

    /// UpdateShardCount past `limit` shards (per stream, or with the account's other open
    /// shards) (aws-behaviour.md §16, a kinesalite test not validated against AWS).
    pub fn target_shard_count_too_high(limit: usize, open: usize, target: u32) -> Self {
        KinesisError::LimitExceeded(format!(
            "Target shard count or number of open shards cannot be greater than {limit}. Current open shard count: {open}, Target shard count: {target}"
        ))
    }

    /// UpdateShardCount to more than twice the open shards (aws-behaviour.md §16, a kinesalite
    /// test not validated against AWS).
    pub fn scale_up_too_far(open: usize, target: u32) -> Self {
        KinesisError::LimitExceeded(format!(
            "UpdateShardCount cannot scale up over double your current open shard count. Current open shard count: {open}, Target shard count: {target}"
        ))
    }

    /// UpdateShardCount to fewer than half the open shards (aws-behaviour.md §16, a kinesalite
    /// test not validated against AWS).
    pub fn scale_down_too_far(open: usize, target: u32) -> Self {
        KinesisError::LimitExceeded(format!(
            "UpdateShardCount cannot scale down below half your current open shard count. Current open shard count: {open}, Target shard count: {target}"
        ))
    }

    /// More than `per_day` UpdateShardCount calls on a stream in a rolling day. The quota is
    /// AWS's; the text is kinesd's own, as no AWS source records it.
    pub fn scaling_rate_exceeded(per_day: usize, stream: &str, account: &str) -> Self {
        KinesisError::LimitExceeded(format!(
            "Exceeded the limit of {per_day} UpdateShardCount operations per rolling 24-hour period for stream {stream} under account {account}."
        ))
    }
}

/// Account limits: shards, on-demand streams, streams changing state at once.
impl KinesisError {
    /// A request that would take the account's open shards past `limit`: CreateStream,
    /// SplitShard, UpdateStreamMode to PROVISIONED (aws-behaviour.md §2, §15).
    pub fn shard_limit_exceeded(account: &str, region: &str, current: usize, limit: u32, additional: usize) -> Self {
        KinesisError::LimitExceeded(format!(
            "This request would exceed the shard limit for the account {account} in {region}. \
             Current shard count for the account: {current}. Limit: {limit}. \
             Number of additional shards that would have resulted from this request: {additional}. \
             Refer to the AWS Service Limits page (http://docs.aws.amazon.com/general/latest/gr/aws_service_limits.html) \
             for current limits and how to request higher limits."
        ))
    }

    /// One on-demand stream more than the account's `limit`. The text follows the shard
    /// limit's; it is kinesd's own, as no AWS source records it.
    pub fn on_demand_stream_limit_exceeded(account: &str, region: &str, current: usize, limit: u32) -> Self {
        KinesisError::LimitExceeded(format!(
            "This request would exceed the on-demand stream limit for the account {account} in {region}. \
             Current on-demand stream count for the account: {current}. Limit: {limit}."
        ))
    }

    /// CreateStream while `limit` streams are CREATING or DELETING; AWS's text, double space
    /// and "would have exceed" included (aws-behaviour.md §2, a real error quoted in 2017).
    pub fn too_many_streams_changing(account: &str, limit: usize) -> Self {
        KinesisError::LimitExceeded(format!(
            "This request would have exceed the limit on the number  of streams that can simultaneously be in CREATING or DELETING for the account {account}. Limit: {limit}."
        ))
    }
}

/// Retention, capacity mode and warm throughput.
impl KinesisError {
    /// A retention period under `min` hours (aws-behaviour.md §10).
    pub fn retention_too_short(min: u32, requested: i32) -> Self {
        KinesisError::InvalidArgument(format!(
            "Minimum allowed retention period is {min} hours. Requested retention period ({requested} hours) is too short."
        ))
    }

    /// A retention period over `max` hours (aws-behaviour.md §10).
    pub fn retention_too_long(max: u32, requested: i32) -> Self {
        KinesisError::InvalidArgument(format!(
            "Maximum allowed retention period is {max} hours. Requested retention period ({requested} hours) is too long."
        ))
    }

    /// IncreaseStreamRetentionPeriod to less than the current period (aws-behaviour.md §10).
    pub fn retention_increase_below_current(stream: &str, requested: i32, existing: i32) -> Self {
        KinesisError::InvalidArgument(format!(
            "Requested retention period ({requested} hours) for stream {stream} can not be shorter than existing retention period ({existing} hours). Use DecreaseRetentionPeriod API."
        ))
    }

    /// DecreaseStreamRetentionPeriod to more than the current period (aws-behaviour.md §10).
    pub fn retention_decrease_above_current(stream: &str, requested: i32, existing: i32) -> Self {
        KinesisError::InvalidArgument(format!(
            "Requested retention period ({requested} hours) for stream {stream} can not be longer than existing retention period ({existing} hours). Use IncreaseRetentionPeriod API."
        ))
    }

    /// More than `per_day` capacity-mode switches of a stream in a rolling day. The quota is
    /// AWS's; the text is kinesd's own, as no AWS source records it.
    pub fn mode_switch_rate_exceeded(per_day: usize, stream: &str, account: &str) -> Self {
        KinesisError::LimitExceeded(format!(
            "Exceeded the limit of {per_day} capacity mode switches per rolling 24-hour period for stream {stream} under account {account}."
        ))
    }

    /// CreateStream or UpdateStreamMode asking for warm throughput on a PROVISIONED stream.
    /// The text is kinesd's own; no AWS source records it.
    pub fn warm_throughput_needs_on_demand() -> Self {
        KinesisError::InvalidArgument("WarmThroughputMiBps can only be specified for ON_DEMAND streams.".to_owned())
    }

    /// UpdateStreamWarmThroughput on a PROVISIONED stream. The text is kinesd's own; no AWS
    /// source records it.
    pub fn warm_throughput_stream_provisioned(stream: &str, account: &str) -> Self {
        KinesisError::InvalidArgument(format!(
            "Warm throughput can only be configured for ON_DEMAND streams. Stream {stream} under account {account} is in PROVISIONED mode."
        ))
    }

    /// Warm throughput (CreateStream, UpdateStreamMode, UpdateStreamWarmThroughput) for an
    /// account without a minimum throughput billing commitment (aws-behaviour.md §2, from the
    /// model's documentation).
    pub fn warm_throughput_needs_commitment() -> Self {
        KinesisError::InvalidArgument(
            "Warm throughput requires MinimumThroughputBillingCommitment to be enabled for the account.".to_owned(),
        )
    }

    /// UpdateStreamWarmThroughput above `max` MiB/s. The limit is AWS's; the text is kinesd's
    /// own, as no AWS source records it.
    pub fn warm_throughput_too_high(max: i32, requested: i32) -> Self {
        KinesisError::LimitExceeded(format!(
            "Warm throughput cannot be greater than {max} MiBps. Requested: {requested} MiBps."
        ))
    }
}

/// Tags and resource policies.
impl KinesisError {
    /// Tags with a character AWS refuses outright (`;`, tab, newline, `,`, ...)
    /// (aws-behaviour.md §9).
    pub fn tags_invalid_characters() -> Self {
        KinesisError::InvalidArgument(
            "Some tags contain invalid characters. Valid characters: Unicode letters, digits, white space, _ . / = + - % @ :."
                .to_owned(),
        )
    }

    /// AddTagsToStream (or CreateStream) with a `%` in a tag (aws-behaviour.md §9).
    pub fn tags_to_add_illegal_characters(stream: &str, account: &str) -> Self {
        illegal_tag_characters("add tags to", stream, account)
    }

    /// RemoveTagsFromStream with a `%` in a key (aws-behaviour.md §9).
    pub fn tags_to_remove_illegal_characters(stream: &str, account: &str) -> Self {
        illegal_tag_characters("remove tags from", stream, account)
    }

    /// Tags that would leave a stream with more than `max` (aws-behaviour.md §9).
    pub fn too_many_tags(stream: &str, account: &str, max: usize) -> Self {
        KinesisError::InvalidArgument(format!(
            "Failed to add tags to stream {stream} under account {account} because a given stream cannot have more than {max} tags associated with it."
        ))
    }

    /// A ResourceARN that is not a Kinesis stream or consumer ARN. The text is kinesd's own;
    /// no AWS source records it.
    pub fn resource_arn_invalid(arn: &str) -> Self {
        KinesisError::InvalidArgument(format!("Invalid ResourceARN {arn}."))
    }

    /// A consumer that does not exist (by ARN, or by stream and name). The text follows the
    /// stream's; it is kinesd's own, as no AWS source records it.
    pub fn consumer_not_found(arn: &str, account: &str) -> Self {
        KinesisError::ResourceNotFound(format!("Consumer {arn} under account {account} not found."))
    }

    /// A request its caller's policies do not allow: IAM's wording, as Kinesis sends it
    /// (`User: arn:aws:sts::...:assumed-role/... is not authorized to perform:
    /// kinesis:DescribeStreamSummary on resource: arn:aws:kinesis:...:stream/... because no
    /// identity-based policy allows the kinesis:DescribeStreamSummary action`, recorded in
    /// awslabs/amazon-kinesis-connector-flink#65 and opensearch-project/data-prepper#6886;
    /// aws-behaviour.md §22). `reason` is `because no identity-based policy allows the <action>
    /// action`, `because no resource-based policy allows ...` or `with an explicit deny in an
    /// identity-based / a resource-based policy`.
    pub fn access_denied(caller_arn: &str, action: &str, resource: &str, reason: String) -> Self {
        KinesisError::AccessDenied(format!(
            "User: {caller_arn} is not authorized to perform: {action} on resource: {resource} {reason}"
        ))
    }

    /// PutResourcePolicy with a document `auth::policy` refuses: `why` is IAM's reason where one
    /// is known (`Missing required field Effect`, `Has prohibited field Principal`...), kinesd's
    /// own otherwise; the prefix is kinesd's (no AWS source records Kinesis's).
    pub fn policy_rejected(why: &str) -> Self {
        invalid_policy(why)
    }

    /// DeleteResourcePolicy on a stream or consumer without a policy (moto's Kinesis tests and LocalStack's
    /// provider, both following AWS; aws-behaviour.md §22).
    pub fn resource_policy_not_found(arn: &str) -> Self {
        KinesisError::ResourceNotFound(format!("No resource policy found for resource ARN {arn}."))
    }

    /// PutResourcePolicy with a policy that is not JSON. The text is kinesd's own, as are the
    /// other policy-document texts; no AWS source records them.
    pub fn policy_not_json() -> Self {
        invalid_policy("the policy is not valid JSON.")
    }

    /// PutResourcePolicy with JSON that is not an object (kinesd's own text).
    pub fn policy_not_an_object() -> Self {
        invalid_policy("the policy must be a JSON object.")
    }

    /// PutResourcePolicy with a document without a Statement (kinesd's own text).
    pub fn policy_without_statement() -> Self {
        invalid_policy("the policy must contain a Statement.")
    }

    /// PutResourcePolicy whose Statement is neither an object nor a non-empty list of objects
    /// (kinesd's own text).
    pub fn policy_statement_malformed() -> Self {
        invalid_policy("Statement must be an object or a non-empty list of objects.")
    }
}

fn illegal_tag_characters(verb: &str, stream: &str, account: &str) -> KinesisError {
    KinesisError::InvalidArgument(format!(
        "Failed to {verb} stream {stream} under account {account} because some tags contained illegal characters. The allowed characters are Unicode letters, white-spaces, '_',',','/','=','+','-','@',':'."
    ))
}

fn invalid_policy(why: &str) -> KinesisError {
    KinesisError::InvalidArgument(format!("Invalid policy document: {why}"))
}

/// Server-side encryption.
impl KinesisError {
    /// StartStreamEncryption or StopStreamEncryption with an EncryptionType other than KMS.
    /// AWS has no recorded test for it (aws-behaviour.md §17); the text is kinesd's own.
    pub fn encryption_type_unsupported(encryption_type: &str) -> Self {
        KinesisError::InvalidArgument(format!(
            "Encryption type {encryption_type} is not supported. The only supported encryption type is KMS."
        ))
    }

    /// A KeyId that is no form of KMS key identifier (aws-behaviour.md §17 lists KMSNotFound
    /// among the model's errors; the text is kinesd's own).
    pub fn kms_key_not_found(key: &str) -> Self {
        KinesisError::KmsNotFound(format!("Invalid keyId {key}"))
    }

    /// More than `per_day` encryption changes of a stream in a rolling day. The quota is AWS's;
    /// the text is kinesd's own, as no AWS source records it.
    pub fn encryption_change_rate_exceeded(per_day: usize, stream: &str, account: &str) -> Self {
        KinesisError::LimitExceeded(format!(
            "Exceeded the limit of {per_day} encryption changes per rolling 24-hour period for stream {stream} under account {account}."
        ))
    }
}

/// Pagination tokens (ListShards, ListStreams).
impl KinesisError {
    /// A NextToken kinesd did not issue, or issued for another listing. The text is kinesd's
    /// own; no AWS source records it.
    pub fn next_token_invalid(token: &str) -> Self {
        KinesisError::InvalidArgument(format!("Invalid NextToken: {token}"))
    }

    /// A NextToken older than 300 seconds. AWS documents the error (aws-behaviour.md §7); the
    /// text is kinesd's own.
    pub fn next_token_expired(token: &str) -> Self {
        KinesisError::ExpiredNextToken(format!(
            "The timestamp for NextToken {token} has expired. Issue a new ListShards or ListStreams request."
        ))
    }

    /// ListShards with a NextToken and `member` (StreamName, ShardFilter, ...), which name the
    /// listing anew (aws-behaviour.md §7); ListStreamConsumers with a NextToken and a
    /// StreamCreationTimestamp (§21.1).
    pub fn next_token_combined_with(member: &str) -> Self {
        KinesisError::InvalidArgument(format!("NextToken and {member} cannot be provided together."))
    }

    /// ListShards with neither a NextToken nor a stream (aws-behaviour.md §7).
    pub fn next_token_or_stream_required() -> Self {
        KinesisError::InvalidArgument("Either NextToken or StreamName should be provided.".to_owned())
    }
}

/// Enhanced fan-out: consumers and SubscribeToShard (aws-behaviour.md §21).
impl KinesisError {
    /// RegisterStreamConsumer with a name the stream already has a consumer under. The text is
    /// kinesd's own; no AWS source records it.
    pub fn consumer_already_exists(consumer: &str, stream_arn: &str) -> Self {
        KinesisError::ResourceInUse(format!("Consumer {consumer} under stream {stream_arn} already exists."))
    }

    /// RegisterStreamConsumer on a stream that has `max` consumers. AWS documents the limit;
    /// the text is kinesd's own.
    pub fn consumer_limit_exceeded(stream_arn: &str, account: &str, max: usize) -> Self {
        KinesisError::LimitExceeded(format!(
            "Stream {stream_arn} under account {account} already has {max} registered consumers, the maximum allowed."
        ))
    }

    /// DeleteStream of a stream with consumers, without EnforceConsumerDeletion; AWS's text as
    /// a real error quoted it (aws-behaviour.md §21).
    pub fn stream_has_consumers(stream_arn: &str, stream: &str) -> Self {
        KinesisError::ResourceInUse(format!(
            "DeleteStream can't delete {stream_arn} because there are consumers associated with this data stream. \
             To delete {stream} anyway, set the EnforceConsumerDeletion parameter to true to force the deletion of \
             all the consumers that are associated with it."
        ))
    }

    /// DescribeStreamConsumer or DeregisterStreamConsumer with neither a ConsumerARN nor a
    /// StreamARN and ConsumerName. The text is kinesd's own.
    pub fn consumer_not_named() -> Self {
        KinesisError::InvalidArgument(
            "Either ConsumerARN or both StreamARN and ConsumerName must be provided.".to_owned(),
        )
    }

    /// DescribeStreamConsumer or DeregisterStreamConsumer whose ConsumerARN names another
    /// consumer than its StreamARN and ConsumerName. The text is kinesd's own.
    pub fn consumer_arn_mismatch(consumer_arn: &str) -> Self {
        KinesisError::InvalidArgument(format!(
            "ConsumerARN {consumer_arn} does not match the StreamARN and ConsumerName of the request."
        ))
    }

    /// SubscribeToShard with a consumer that is CREATING or DELETING; AWS's text as a real
    /// error quoted it, spaces around the punctuation included (aws-behaviour.md §21).
    pub fn consumer_not_active(consumer: &str, created_secs: u64, stream: &str, account: &str) -> Self {
        KinesisError::ResourceInUse(format!(
            "Consumer {consumer} with creation timestamp {created_secs} under stream: {stream} , account {account} is not in ACTIVE status."
        ))
    }

    /// A resource policy put on or deleted from a consumer that is CREATING or DELETING; AWS's
    /// text as a real error quoted it (aws-behaviour.md §21.1).
    pub fn consumer_not_active_for_change(consumer: &str, created_secs: u64, stream: &str, account: &str) -> Self {
        KinesisError::ResourceInUse(format!(
            "Consumer {consumer} with creation timestamp {created_secs} under stream {stream} and account {account} is not in ACTIVE status."
        ))
    }

    /// SubscribeToShard beyond one call a second for a consumer and shard, with
    /// `--enforce-limits` (AWS's quota). No AWS text is on record; this one is kinesd's, in the
    /// shape of AWS's other rate messages (aws-behaviour.md §19).
    pub fn subscribe_rate_exceeded(consumer_arn: &str, shard: &str) -> Self {
        KinesisError::LimitExceeded(format!("Rate exceeded for consumer {consumer_arn} and shard {shard}."))
    }

    /// SubscribeToShard while a subscription of the same consumer to the shard is younger than
    /// five seconds. The first words are AWS's (aws-behaviour.md §21); the rest is kinesd's.
    pub fn subscription_in_use(consumer_arn: &str, shard: &str) -> Self {
        KinesisError::ResourceInUse(format!(
            "Another active subscription exists for this consumer: {consumer_arn} and shard: {shard}."
        ))
    }

    /// The exception event that ends a subscription a newer one took over. The text is
    /// kinesd's own.
    pub fn subscription_taken_over(consumer_arn: &str, shard: &str) -> Self {
        KinesisError::ResourceInUse(format!(
            "A newer subscription of consumer {consumer_arn} to shard {shard} took over this one."
        ))
    }
}

/// Request shape: the envelope, the body's decoding and the model's constraints.
impl KinesisError {
    /// A target that names no Kinesis operation; AWS sends it without a message
    /// (aws-behaviour.md §1).
    pub fn unknown_operation() -> Self {
        KinesisError::UnknownOperation(String::new())
    }

    /// A body that does not decode (empty, not JSON), or a request in no codec AWS reads; AWS
    /// sends it without a message (aws-behaviour.md §1).
    pub fn body_undecodable() -> Self {
        KinesisError::Serialization(String::new())
    }

    /// A CBOR body that is not well-formed CBOR (truncated, reserved encodings, a stray break,
    /// a map key that is not a text string, invalid UTF-8, too deep, trailing bytes); `detail`
    /// says which and where. The text is kinesd's own; no AWS source records AWS's.
    pub fn cbor_malformed(detail: String) -> Self {
        KinesisError::Serialization(format!("Malformed CBOR request body: {detail}"))
    }

    /// A body that decodes to something other than a structure. The text is kinesd's own; no
    /// AWS source records it.
    pub fn body_not_a_structure() -> Self {
        KinesisError::Serialization("Start of structure or map expected.".to_owned())
    }

    /// A member whose JSON type the model's type cannot take; `message` is AWS's type-error
    /// text, which `protocol::decode` composes (aws-behaviour.md §1.1).
    pub fn member_type_mismatch(message: String) -> Self {
        KinesisError::Serialization(message)
    }

    /// The model's constraints failed; `summary` is AWS's `N validation error(s) detected: ...`,
    /// which `protocol::validate` composes from the violations (aws-behaviour.md §0.2).
    pub fn constraints_violated(summary: String) -> Self {
        KinesisError::Validation(summary)
    }

    /// A body over the transport's limit of `limit` bytes. The text is kinesd's own; no AWS
    /// source records it.
    pub fn request_body_too_large(limit: usize) -> Self {
        KinesisError::RequestEntityTooLarge(format!("Request body exceeds the maximum of {limit} bytes."))
    }

    /// A body the transport could not read (the client went away mid-body). The text is
    /// kinesd's own.
    pub fn request_body_unreadable(cause: impl Display) -> Self {
        KinesisError::Serialization(format!("Could not read the request body: {cause}"))
    }

    /// An operation of the model that kinesd does not serve yet. The text is kinesd's own.
    pub fn operation_not_implemented(operation: &str) -> Self {
        KinesisError::NotImplemented(format!("kinesd does not implement {operation} yet."))
    }
}

/// Signatures: the shape of SigV4 credentials, checked before anything is verified.
impl KinesisError {
    /// A request without an Authorization header or presigned query (aws-behaviour.md §1).
    pub fn missing_authentication_token() -> Self {
        KinesisError::MissingAuthenticationToken("Missing Authentication Token".to_owned())
    }

    /// Credentials both in the query string and in the Authorization header
    /// (aws-behaviour.md §1).
    pub fn signature_in_query_and_header() -> Self {
        KinesisError::InvalidSignature(
            "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header.".to_owned(),
        )
    }

    /// A presigned query string without the `missing` parameters (`X-Amz-Credential`, ...), in
    /// the order AWS lists them (aws-behaviour.md §1).
    pub fn query_signature_incomplete(missing: &[&str]) -> Self {
        let mut message = String::new();
        for name in missing {
            message.push_str(&format!("AWS query-string parameters must include '{name}'. "));
        }
        message.push_str("Re-examine the query-string parameters.");
        KinesisError::IncompleteSignature(message)
    }

    /// An Authorization header without the `missing` parameters (`Credential`, `Signature`,
    /// `SignedHeaders`, in that order) or, when `date_missing`, a request without a date
    /// header; AWS echoes the header (aws-behaviour.md §1).
    pub fn authorization_header_incomplete(missing: &[&str], date_missing: bool, header: &str) -> Self {
        let mut message = String::new();
        for name in missing {
            message.push_str(&format!("Authorization header requires '{name}' parameter. "));
        }
        if date_missing {
            message.push_str("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. ");
        }
        message.push_str(&format!("Authorization={header}"));
        KinesisError::IncompleteSignature(message)
    }
}

/// Throttling, when `--enforce-limits` is on (aws-behaviour.md §19).
impl KinesisError {
    /// A write over a shard's (or an on-demand stream's) capacity: PutRecord's error, and the
    /// ErrorMessage of each refused PutRecords entry (AWS's PutRecords example). Also
    /// GetShardIterator beyond 5 calls a second on a shard, whose text AWS does not document;
    /// kinesd reuses the shard's text.
    pub fn shard_rate_exceeded(shard: &str, stream: &str, account: &str) -> Self {
        KinesisError::ProvisionedThroughputExceeded(format!(
            "Rate exceeded for shard {shard} in stream {stream} under account {account}."
        ))
    }

    /// A GetRecords beyond the shard's 5 calls or 2 MiB a second (the text AWS sends today,
    /// as reported by users in 2023; older reports show the write text).
    pub fn shard_read_rate_exceeded(account: &str, stream: &str, shard: &str) -> Self {
        KinesisError::ProvisionedThroughputExceeded(format!("Rate exceeded for Shard - {account}/{stream}/{shard}"))
    }

    /// PutRecord's error for its one record refused as a PutRecords entry would be: the
    /// entry's ErrorCode as the error type, with its message.
    pub fn put_record_failed(code: &str, message: String) -> Self {
        match code {
            "ProvisionedThroughputExceededException" => KinesisError::ProvisionedThroughputExceeded(message),
            _ => KinesisError::InternalFailure(message),
        }
    }

    /// A control-plane call beyond its rate, for a request that names a stream (botocore's
    /// DescribeStream retry fixture).
    pub fn stream_rate_exceeded(stream: &str, account: &str) -> Self {
        KinesisError::LimitExceeded(format!("Rate exceeded for stream {stream} under account {account}."))
    }

    /// A control-plane call beyond its rate that names no stream (ListStreams and the like).
    pub fn account_rate_exceeded(account: &str) -> Self {
        KinesisError::LimitExceeded(format!("Rate exceeded for account {account}."))
    }
}

/// Injected faults (`--faults`): the error a rule names, with AWS's status and the text AWS
/// sends for it where one is on record (aws-behaviour.md §19), else kinesd's own.
impl KinesisError {
    /// The error types a fault rule may name: every error of the service model, and the
    /// common errors any AWS operation may answer. `None` for any other name.
    pub fn injected(type_name: &str, stream: Option<&str>, shard: Option<&str>, account: &str) -> Option<Self> {
        let stream_or = |fallback: &str| stream.unwrap_or(fallback).to_owned();
        let injected = |type_name: &'static str, status: u16, message: &str| {
            Some(KinesisError::Injected { type_name, status, message: message.to_owned() })
        };
        match type_name {
            "InternalFailure" => Some(KinesisError::internal_failure()),
            "ProvisionedThroughputExceededException" => Some(match (stream, shard) {
                (Some(stream), Some(shard)) => KinesisError::shard_rate_exceeded(shard, stream, account),
                _ => KinesisError::ProvisionedThroughputExceeded(format!(
                    "Rate exceeded for stream {} under account {account}.",
                    stream_or("unknown")
                )),
            }),
            "LimitExceededException" => Some(match stream {
                Some(stream) => KinesisError::stream_rate_exceeded(stream, account),
                None => KinesisError::account_rate_exceeded(account),
            }),
            "ResourceNotFoundException" => Some(KinesisError::stream_not_found(&stream_or("unknown"), account)),
            "ResourceInUseException" => Some(KinesisError::ResourceInUse(format!(
                "Stream {} under account {account} is in use.",
                stream_or("unknown")
            ))),
            "InvalidArgumentException" => Some(KinesisError::InvalidArgument("Injected fault.".into())),
            "ValidationException" => Some(KinesisError::Validation("Injected fault.".into())),
            "AccessDeniedException" => Some(KinesisError::AccessDenied(format!(
                "User: arn:aws:iam::{account}:root is not authorized to perform this action"
            ))),
            "ExpiredIteratorException" => Some(KinesisError::ExpiredIterator("Iterator expired.".into())),
            "ExpiredNextTokenException" => Some(KinesisError::ExpiredNextToken("The token has expired.".into())),
            "KMSNotFoundException" => Some(KinesisError::KmsNotFound("Injected fault: KMS key not found.".into())),
            "KMSDisabledException" => injected("KMSDisabledException", 400, "Injected fault: KMS key is disabled."),
            "KMSInvalidStateException" => {
                injected("KMSInvalidStateException", 400, "Injected fault: KMS key is not in a valid state.")
            }
            "KMSAccessDeniedException" => {
                injected("KMSAccessDeniedException", 400, "Injected fault: access to the KMS key is denied.")
            }
            "KMSOptInRequired" => injected("KMSOptInRequired", 400, "Injected fault: KMS subscription required."),
            "KMSThrottlingException" => injected("KMSThrottlingException", 400, "Rate exceeded"),
            "InternalFailureException" => injected("InternalFailureException", 500, "Internal service failure."),
            "ServiceUnavailable" => {
                injected("ServiceUnavailable", 503, "The request has failed due to a temporary failure of the server.")
            }
            "ThrottlingException" => injected("ThrottlingException", 400, "Rate exceeded"),
            _ => None,
        }
    }
}

/// Signatures: verification against configured credentials (`--credentials`), in the order AWS
/// checks (aws-behaviour.md §20). AWS's Coral services share these texts.
impl KinesisError {
    /// An `X-Amz-Date` (or `Date`) that is not `YYYYMMDDTHHMMSSZ`.
    pub fn signature_date_malformed(date: &str) -> Self {
        KinesisError::IncompleteSignature(format!(
            "Date must be in ISO-8601 'basic format'. Got '{date}'. See http://en.wikipedia.org/wiki/ISO_8601"
        ))
    }

    /// A request dated more than `skew_min` minutes before `now` (seconds since the epoch).
    pub fn signature_expired(date: &str, now: i64, skew_min: i64) -> Self {
        KinesisError::InvalidSignature(format!(
            "Signature expired: {date} is now earlier than {} ({} - {skew_min} min.)",
            super::amz_date(now - skew_min * 60),
            super::amz_date(now)
        ))
    }

    /// A request dated more than `skew_min` minutes after `now` (seconds since the epoch).
    pub fn signature_not_yet_current(date: &str, now: i64, skew_min: i64) -> Self {
        KinesisError::InvalidSignature(format!(
            "Signature not yet current: {date} is still later than {} ({} + {skew_min} min.)",
            super::amz_date(now + skew_min * 60),
            super::amz_date(now)
        ))
    }

    /// A presigned request used after its `X-Amz-Expires` seconds. The text is kinesd's own,
    /// shaped like AWS's skew message (no AWS answer for Kinesis is on record).
    pub fn presigned_request_expired(date: &str, now: i64, expires: i64) -> Self {
        KinesisError::InvalidSignature(format!(
            "Signature expired: {date} is now earlier than {} ({} - {expires} sec.)",
            super::amz_date(now - expires),
            super::amz_date(now)
        ))
    }

    /// `SignedHeaders` without `host`.
    pub fn host_not_signed() -> Self {
        KinesisError::InvalidSignature("'Host' must be a 'SignedHeader' in the AWS Authorization.".to_owned())
    }

    /// An algorithm other than `AWS4-HMAC-SHA256`. AWS's text ends with a space.
    pub fn signature_algorithm_unsupported(algorithm: &str) -> Self {
        KinesisError::IncompleteSignature(format!(
            "Unsupported AWS 'algorithm': '{algorithm}' (only AWS4-HMAC-SHA256 for now). "
        ))
    }

    /// A Credential that is not `keyid/date/region/service/aws4_request`.
    pub fn credential_malformed(credential: &str) -> Self {
        KinesisError::IncompleteSignature(format!(
            "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '{credential}'"
        ))
    }

    /// A credential scope that names another region, service or terminator, or a date other
    /// than the request's: one sentence per wrong part, in this order, each of the first three
    /// followed by a space as AWS sends them. `date` is `(scope date, request date)`.
    pub fn credential_scope_wrong(
        region: Option<&str>,
        service: Option<&str>,
        terminator: Option<&str>,
        date: Option<(&str, &str)>,
    ) -> Self {
        let mut message = String::new();
        if let Some(region) = region {
            message.push_str(&format!("Credential should be scoped to a valid region, not '{region}'. "));
        }
        if let Some(service) = service {
            message.push_str(&format!("Credential should be scoped to correct service: '{service}'. "));
        }
        if let Some(terminator) = terminator {
            message.push_str(&format!(
                "Credential should be scoped with a valid terminator: 'aws4_request', not '{terminator}'. "
            ));
        }
        if let Some((scope, request)) = date {
            let day = request.get(..8).unwrap_or(request);
            message.push_str(&format!(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{scope}' != '{day}', from '{request}'."
            ));
        }
        KinesisError::InvalidSignature(message)
    }

    /// An access key id no configured credential has, or a session token that is not the
    /// credential's.
    pub fn security_token_invalid() -> Self {
        KinesisError::UnrecognizedClient("The security token included in the request is invalid.".to_owned())
    }

    /// A signature that is not the one the credential's secret gives.
    pub fn signature_mismatch() -> Self {
        KinesisError::InvalidSignature(
            "The request signature we calculated does not match the signature you provided. Check your AWS Secret \
             Access Key and signing method. Consult the service documentation for details."
                .to_owned(),
        )
    }
}

/// Internal failures: AWS sends them bare (aws-behaviour.md §0.1), so their text is only logged.
impl KinesisError {
    /// AWS's InternalFailure, for failures with nothing more to say (PutRecord with a version-3
    /// sequence number, storage refusing every record).
    pub fn internal_failure() -> Self {
        KinesisError::InternalFailure(INTERNAL_FAILURE_MESSAGE.to_owned())
    }

    /// An InternalFailure whose `detail` (a corrupt catalog entry, a failed serialisation)
    /// reaches the logs and startup errors, never the client: the body carries no message.
    pub fn internal_failure_because(detail: impl Display) -> Self {
        KinesisError::InternalFailure(detail.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The texts clients and AWS's own tests compare byte for byte, pinned here so that a change
    /// to a constructor cannot slip through unnoticed.
    #[test]
    fn messages_are_aws_texts() {
        let cases = [
            (
                KinesisError::stream_not_found("s", "000000000000"),
                "ResourceNotFoundException",
                "Stream s under account 000000000000 not found.",
            ),
            (
                KinesisError::could_not_find_shard("ABKLFD8", "s", "000000000000"),
                "ResourceNotFoundException",
                "Could not find shard ABKLFD8 in stream s under account 000000000000.",
            ),
            (
                KinesisError::shard_does_not_exist("shardId-000000000005", "s", "000000000000"),
                "ResourceNotFoundException",
                "Shard shardId-000000000005 in stream s under account 000000000000 does not exist",
            ),
            (
                KinesisError::stream_not_active("s", "000000000000", "UPDATING"),
                "ResourceInUseException",
                "Stream s under account 000000000000 not ACTIVE, instead in state UPDATING",
            ),
            (
                KinesisError::stream_already_exists("s", "000000000000"),
                "ResourceInUseException",
                "Stream s under account 000000000000 already exists.",
            ),
            (
                KinesisError::shard_limit_exceeded("000000000000", "us-east-1", 3, 10, 1000),
                "LimitExceededException",
                "This request would exceed the shard limit for the account 000000000000 in us-east-1. \
                 Current shard count for the account: 3. Limit: 10. \
                 Number of additional shards that would have resulted from this request: 1000. \
                 Refer to the AWS Service Limits page (http://docs.aws.amazon.com/general/latest/gr/aws_service_limits.html) \
                 for current limits and how to request higher limits.",
            ),
            (
                KinesisError::too_many_streams_changing("000000000000", 5),
                "LimitExceededException",
                "This request would have exceed the limit on the number  of streams that can simultaneously be in \
                 CREATING or DELETING for the account 000000000000. Limit: 5.",
            ),
            (
                KinesisError::iterator_expired(1_449_712_779_000, 1_449_713_175_000, 300_000),
                "ExpiredIteratorException",
                "Iterator expired. The iterator was created at time Thu Dec 10 01:59:39 UTC 2015 while right now it \
                 is Thu Dec 10 02:06:15 UTC 2015 which is further in the future than the tolerated delay of 300000 \
                 milliseconds.",
            ),
            (
                KinesisError::iterator_arguments_mismatch("LATEST", true),
                "InvalidArgumentException",
                "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and StartingSequenceNumber or \
                 (2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. Request specified LATEST and also a \
                 StartingSequenceNumber.",
            ),
            (
                KinesisError::shards_not_adjacent("shardId-000000000000", "shardId-000000000002", "s", "000000000000"),
                "InvalidArgumentException",
                "Shards shardId-000000000000 and shardId-000000000002 in stream s under account 000000000000 are not \
                 an adjacent pair of shards eligible for merging",
            ),
            (
                KinesisError::tags_to_remove_illegal_characters("s", "000000000000"),
                "InvalidArgumentException",
                "Failed to remove tags from stream s under account 000000000000 because some tags contained illegal \
                 characters. The allowed characters are Unicode letters, white-spaces, '_',',','/','=','+','-','@',':'.",
            ),
            (
                KinesisError::query_signature_incomplete(&["X-Amz-Credential", "X-Amz-Date"]),
                "IncompleteSignatureException",
                "AWS query-string parameters must include 'X-Amz-Credential'. AWS query-string parameters must \
                 include 'X-Amz-Date'. Re-examine the query-string parameters.",
            ),
            (
                KinesisError::authorization_header_incomplete(&["SignedHeaders"], true, "AWS4- Signature=b"),
                "IncompleteSignatureException",
                "Authorization header requires 'SignedHeaders' parameter. Authorization header requires existence \
                 of either a 'X-Amz-Date' or a 'Date' header. Authorization=AWS4- Signature=b",
            ),
            (KinesisError::unknown_operation(), "UnknownOperationException", ""),
            (KinesisError::body_undecodable(), "SerializationException", ""),
            (
                KinesisError::cbor_malformed("truncated".into()),
                "SerializationException",
                "Malformed CBOR request body: truncated",
            ),
        ];
        for (error, type_name, message) in cases {
            assert_eq!(error.type_name(), type_name, "{error:?}");
            assert_eq!(error.message(), message);
        }
    }

    #[test]
    fn internal_failures_keep_their_detail_for_the_logs() {
        assert_eq!(KinesisError::internal_failure().message(), "Internal service failure.");
        let e = KinesisError::internal_failure_because(format_args!("corrupt catalog entry {}", "s"));
        assert_eq!((e.type_name(), e.status(), e.message()), ("InternalFailure", 500, "corrupt catalog entry s"));
    }
}
