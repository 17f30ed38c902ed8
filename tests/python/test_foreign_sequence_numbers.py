"""Sequence numbers a client makes up: GetShardIterator's StartingSequenceNumber and PutRecord's
SequenceNumberForOrdering. AWS decodes them in its historic layouts and answers by what they claim
(kinesalite's AWS-validated getShardIterator and putRecord tests; docs/aws-behaviour.md)."""

from __future__ import annotations

import time

import pytest
from botocore.exceptions import ClientError

from kinesd_harness import error_of, shard_id


def dec(hex_digits: str) -> str:
    return str(int(hex_digits, 16))


def gsi_error(raw_kinesis, name, seq, shard="shardId-0"):
    with pytest.raises(ClientError) as ei:
        raw_kinesis.get_shard_iterator(StreamName=name, ShardId=shard, ShardIteratorType="AT_SEQUENCE_NUMBER",
                                       StartingSequenceNumber=seq)
    return error_of(ei)


def test_get_shard_iterator_reads_what_the_number_claims(raw_kinesis, make_stream):
    name = make_stream(1)
    account = "123456789012"
    # A small number is a version 0 number of shard 5.
    assert gsi_error(raw_kinesis, name, "5") == (
        400, "InvalidArgumentException",
        "Invalid StartingSequenceNumber. It encodes shardId-000000000005, while it was used in a call to a shard "
        "with shardId-000000000000")
    # Version 0 naming the right shard: AWS fails internally.
    status, code, _ = gsi_error(raw_kinesis, name, "0")
    assert (status, code) == (500, "InternalFailure")
    # A shard index with its top bit set is negative.
    assert gsi_error(raw_kinesis, name, dec("20000000000000000000000000000000000000800000002"))[2] == (
        "Invalid StartingSequenceNumber. It encodes shardId--02147483648, while it was used in a call to a shard "
        "with shardId-000000000000")
    # Position with its top bit set, a version 0 date past AWS's limit: invalid.
    for seq in (dec("20000000000800000000000000000000000000000000002"), dec("13bb2cc3d80000000000000000000000")):
        assert gsi_error(raw_kinesis, name, seq) == (
            400, "InvalidArgumentException",
            f"StartingSequenceNumber {seq} used in GetShardIterator on shard shardId-000000000000 in stream {name} "
            f"under account {account} is invalid.")
    # A version 2 number of this shard index but another creation time.
    seq = dec("2000000001" + "0" * 36 + "2")
    assert gsi_error(raw_kinesis, name, seq) == (
        400, "InvalidArgumentException",
        f"StartingSequenceNumber {seq} used in GetShardIterator on shard shardId-000000000000 in stream {name} "
        f"under account {account} is invalid because it did not come from this stream.")


def test_sequence_number_for_ordering_is_decoded_not_matched(kinesis, raw_kinesis, make_stream):
    name = make_stream(1)
    now_hex = format(int(time.time()) - 2, "x")  # 8 digits until 2106, as in kinesalite's test
    accepted = [
        dec("20000000000000000000000000000000000000000000002"),  # all 0
        dec("20000000000000000000000000000000000000000000001"),  # version 1
        dec("200000000007fffffff7fffffff000" + now_hex + "7fffffff2"),  # arrival now
        dec("20000000000000000000000000000000000000800000002"),  # negative shard index
    ]
    last = None
    for seq in accepted:
        r = kinesis.put_record(StreamName=name, Data=b"", PartitionKey="a", SequenceNumberForOrdering=seq)
        assert r["ShardId"] == shard_id(0)
        assert last is None or int(r["SequenceNumber"]) > int(last)
        last = r["SequenceNumber"]
    future = dec("200000000000000000000000000000" + format(int(time.time()) + 60, "x") + "000000002")
    for seq in (dec("20000000000000000000000000000000000000000000000"),
                dec("20000000000000000000000000000000000000000000004"),
                dec("30000000000000000000000000000000000000000000001"),
                dec("20000000000800000000000000000000000000000000002"),
                dec("20000000000000000000000000000000000000000000003"),  # version 3
                dec("2ffffffffff7fffffffffffffff000000000007fffffff2"),  # all f: created in 4147
                future):
        with pytest.raises(ClientError) as ei:
            raw_kinesis.put_record(StreamName=name, Data=b"", PartitionKey="a", SequenceNumberForOrdering=seq)
        assert error_of(ei) == (
            400, "InvalidArgumentException",
            f"ExclusiveMinimumSequenceNumber {seq} used in PutRecord on stream {name} under account 123456789012 "
            "is invalid.")
