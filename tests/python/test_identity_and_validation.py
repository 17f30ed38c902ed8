"""StreamName vs StreamARN, and the server's own model validation (AWS coral messages)."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from kinesd_harness import error_of, shard_id, unique_name

PATTERN = "[a-zA-Z0-9_.-]+"


# ------------------------------------------------------------------------ StreamName/StreamARN


def test_stream_arn_alone_works_everywhere(kinesis, server, make_stream):
    name = make_stream(2)
    arn = server.arn(name)
    assert kinesis.describe_stream_summary(StreamARN=arn)["StreamDescriptionSummary"][
        "StreamName"] == name
    assert kinesis.describe_stream(StreamARN=arn)["StreamDescription"]["StreamName"] == name
    assert len(kinesis.list_shards(StreamARN=arn)["Shards"]) == 2
    put = kinesis.put_record(StreamARN=arn, Data=b"via-arn", PartitionKey="k")
    puts = kinesis.put_records(StreamARN=arn, Records=[{"Data": b"batch", "PartitionKey": "k"}])
    assert puts["FailedRecordCount"] == 0
    it = kinesis.get_shard_iterator(StreamARN=arn, ShardId=put["ShardId"],
                                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    data = [r["Data"] for r in kinesis.get_records(ShardIterator=it, StreamARN=arn)["Records"]]
    assert data == [b"via-arn", b"batch"]
    assert kinesis.list_tags_for_stream(StreamARN=arn)["Tags"] == []


def test_stream_name_and_matching_arn(kinesis, server, make_stream):
    name = make_stream(1)
    s = kinesis.describe_stream_summary(StreamName=name, StreamARN=server.arn(name))
    assert s["StreamDescriptionSummary"]["StreamARN"] == server.arn(name)
    r = kinesis.put_record(StreamName=name, StreamARN=server.arn(name), Data=b"x", PartitionKey="k")
    assert r["ShardId"] == shard_id(0)


def test_stream_name_and_mismatched_arn_is_rejected(kinesis, server, make_stream):
    a = make_stream(1)
    b = make_stream(1)
    for call in (
        lambda: kinesis.describe_stream_summary(StreamName=a, StreamARN=server.arn(b)),
        lambda: kinesis.put_record(StreamName=a, StreamARN=server.arn(b), Data=b"x",
                                   PartitionKey="k"),
    ):
        with pytest.raises(ClientError) as ei:
            call()
        # AWS's answer is not on record (docs/aws-behaviour.md §1.2): type and text are kinesd's.
        assert error_of(ei) == (
            400, "InvalidArgumentException", f"StreamARN {server.arn(b)} does not match StreamName {a}.")
    # Nothing was written to either stream.
    for n in (a, b):
        it = kinesis.get_shard_iterator(StreamName=n, ShardId=shard_id(0),
                                        ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        assert kinesis.get_records(ShardIterator=it)["Records"] == []


def test_neither_name_nor_arn_is_a_missing_stream_name(raw_kinesis):
    # As AWS answered when StreamName was required: the violation takes its place in the list.
    with pytest.raises(ClientError) as ei:
        raw_kinesis.describe_stream_summary()
    assert error_of(ei) == (400, "ValidationException", "1 validation error detected: Value null at 'streamName' "
                            "failed to satisfy constraint: Member must not be null")
    with pytest.raises(ClientError) as ei:
        raw_kinesis.put_records(Records=[{"Data": b"x", "PartitionKey": "k"}])
    assert error_of(ei)[2] == ("1 validation error detected: Value null at 'streamName' failed to satisfy "
                               "constraint: Member must not be null")
    with pytest.raises(ClientError) as ei:
        raw_kinesis.put_record()
    assert error_of(ei)[2] == (
        "3 validation errors detected: Value null at 'partitionKey' failed to satisfy constraint: Member must not "
        "be null; Value null at 'data' failed to satisfy constraint: Member must not be null; Value null at "
        "'streamName' failed to satisfy constraint: Member must not be null")
    # ListShards never required StreamName.
    with pytest.raises(ClientError) as ei:
        raw_kinesis.list_shards()
    assert error_of(ei) == (400, "InvalidArgumentException", "Either NextToken or StreamName should be provided.")


def test_arn_of_other_account_or_region_is_not_found(kinesis, server, make_stream):
    name = make_stream(1)
    for arn in (
        f"arn:aws:kinesis:{server.region}:999999999999:stream/{name}",
        f"arn:aws:kinesis:eu-north-1:{server.account_id}:stream/{name}",
    ):
        with pytest.raises(ClientError) as ei:
            kinesis.describe_stream_summary(StreamARN=arn)
        # kinesd's choice (docs/aws-behaviour.md §0.6): this server holds one account and region,
        # so a stream elsewhere is one it does not have, answered in AWS's not-found words.
        account = arn.split(":")[4]
        assert error_of(ei) == (400, "ResourceNotFoundException", f"Stream {name} under account {account} not found.")


def test_malformed_arn_is_validation_error(raw_kinesis):
    with pytest.raises(ClientError) as ei:
        raw_kinesis.describe_stream_summary(StreamARN="not-an-arn")
    assert error_of(ei) == (
        400, "ValidationException",
        "1 validation error detected: Value 'not-an-arn' at 'streamARN' failed to satisfy "
        "constraint: Member must satisfy regular expression pattern: "
        "arn:aws.*:kinesis:.*:\\d{12}:stream/\\S+")


# -------------------------------------------------------------------------------- validation


def test_empty_stream_name(raw_kinesis):
    """An empty name fails the pattern and the minimum length; AWS prints pattern first."""
    with pytest.raises(ClientError) as ei:
        raw_kinesis.describe_stream_summary(StreamName="")
    assert error_of(ei) == (
        400, "ValidationException",
        "2 validation errors detected: Value '' at 'streamName' failed to satisfy constraint: "
        f"Member must satisfy regular expression pattern: {PATTERN}; Value '' at 'streamName' "
        "failed to satisfy constraint: Member must have length greater than or equal to 1")


def test_stream_name_bad_characters(raw_kinesis):
    with pytest.raises(ClientError) as ei:
        raw_kinesis.create_stream(StreamName="bad name!", ShardCount=1)
    assert error_of(ei) == (
        400, "ValidationException",
        "1 validation error detected: Value 'bad name!' at 'streamName' failed to satisfy "
        f"constraint: Member must satisfy regular expression pattern: {PATTERN}")


def test_stream_name_too_long(raw_kinesis):
    name = "a" * 129
    with pytest.raises(ClientError) as ei:
        raw_kinesis.create_stream(StreamName=name, ShardCount=1)
    assert error_of(ei) == (
        400, "ValidationException",
        f"1 validation error detected: Value '{name}' at 'streamName' failed to satisfy "
        "constraint: Member must have length less than or equal to 128")


def test_stream_name_128_is_fine(kinesis, make_stream):
    name = make_stream(1, name="n" * 116 + unique_name("")[1:])
    assert len(name) == 128
    assert kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"][
        "StreamName"] == name


def test_create_stream_without_name(raw_kinesis):
    with pytest.raises(ClientError) as ei:
        raw_kinesis.create_stream(ShardCount=1)
    assert error_of(ei) == (
        400, "ValidationException",
        "1 validation error detected: Value null at 'streamName' failed to satisfy constraint: "
        "Member must not be null")


def test_two_validation_errors(raw_kinesis):
    name = "b" * 129
    with pytest.raises(ClientError) as ei:
        raw_kinesis.describe_stream(StreamName=name, Limit=0)
    # Order proven by kinesalite's exact-string tests against AWS: limit before streamName.
    assert error_of(ei) == (
        400, "ValidationException",
        "2 validation errors detected: Value '0' at 'limit' failed to satisfy constraint: Member "
        f"must have value greater than or equal to 1; Value '{name}' at 'streamName' failed to "
        "satisfy constraint: Member must have length less than or equal to 128")


def test_enum_validation(raw_kinesis, make_stream):
    name = make_stream(1)
    with pytest.raises(ClientError) as ei:
        raw_kinesis.get_shard_iterator(StreamName=name, ShardId=shard_id(0),
                                       ShardIteratorType="SIDEWAYS")
    assert error_of(ei) == (
        400, "ValidationException",
        "1 validation error detected: Value 'SIDEWAYS' at 'shardIteratorType' failed to satisfy "
        "constraint: Member must satisfy enum value set: [AFTER_SEQUENCE_NUMBER, LATEST, "
        "AT_TIMESTAMP, AT_SEQUENCE_NUMBER, TRIM_HORIZON]")


def test_partition_key_empty(raw_kinesis, make_stream):
    name = make_stream(1)
    with pytest.raises(ClientError) as ei:
        raw_kinesis.put_record(StreamName=name, Data=b"x", PartitionKey="")
    assert error_of(ei) == (
        400, "ValidationException",
        "1 validation error detected: Value '' at 'partitionKey' failed to satisfy constraint: "
        "Member must have length greater than or equal to 1")


def test_describe_stream_limit_bounds(raw_kinesis, make_stream):
    name = make_stream(1)
    with pytest.raises(ClientError) as ei:
        raw_kinesis.describe_stream(StreamName=name, Limit=10001)
    assert error_of(ei) == (
        400, "ValidationException",
        "1 validation error detected: Value '10001' at 'limit' failed to satisfy constraint: "
        "Member must have value less than or equal to 10000")
