"""ListShards: paging, NextToken rules, ExclusiveStartShardId, ShardFilter on an unresharded stream."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from botocore.exceptions import ClientError

from kinesd_harness import error_of, expected_ranges, shard_id


def _ids(resp) -> list[str]:
    return [s["ShardId"] for s in resp["Shards"]]


def test_list_shards_exact(kinesis, make_stream):
    name = make_stream(3)
    resp = kinesis.list_shards(StreamName=name)
    assert "NextToken" not in resp
    assert _ids(resp) == [shard_id(i) for i in range(3)]
    for s, (lo, hi) in zip(resp["Shards"], expected_ranges(3)):
        assert s["HashKeyRange"] == {"StartingHashKey": str(lo), "EndingHashKey": str(hi)}
        assert list(s["SequenceNumberRange"]) == ["StartingSequenceNumber"]
    # Same shards as DescribeStream, field for field.
    described = kinesis.describe_stream(StreamName=name)["StreamDescription"]["Shards"]
    assert resp["Shards"] == described


def test_list_shards_by_arn(kinesis, server, make_stream):
    name = make_stream(2)
    by_arn = kinesis.list_shards(StreamARN=server.arn(name))
    assert _ids(by_arn) == [shard_id(0), shard_id(1)]


def test_list_shards_next_token_paging(kinesis, make_stream):
    name = make_stream(5)
    p1 = kinesis.list_shards(StreamName=name, MaxResults=2)
    assert _ids(p1) == [shard_id(0), shard_id(1)]
    tok = p1["NextToken"]
    assert isinstance(tok, str) and tok
    p2 = kinesis.list_shards(NextToken=tok, MaxResults=2)
    assert _ids(p2) == [shard_id(2), shard_id(3)]
    p3 = kinesis.list_shards(NextToken=p2["NextToken"], MaxResults=2)
    assert _ids(p3) == [shard_id(4)]
    assert "NextToken" not in p3
    # A token may be reused (it is not consumed).
    again = kinesis.list_shards(NextToken=tok, MaxResults=2)
    assert _ids(again) == [shard_id(2), shard_id(3)]
    # botocore's ListShards paginator re-sends StreamName with NextToken, which real AWS rejects
    # (boto/botocore#2009); a faithful server rejects it the same way.
    paginator = kinesis.get_paginator("list_shards").paginate(
        StreamName=name, PaginationConfig={"PageSize": 2})
    with pytest.raises(ClientError) as ei:
        list(paginator)
    assert error_of(ei) == (400, "InvalidArgumentException",
                            "NextToken and StreamName cannot be provided together.")


def test_list_shards_next_token_with_stream_name_is_invalid(kinesis, server, make_stream):
    name = make_stream(3)
    tok = kinesis.list_shards(StreamName=name, MaxResults=1)["NextToken"]
    for extra, msg in (
        ({"StreamName": name}, "NextToken and StreamName cannot be provided together."),
        ({"StreamARN": server.arn(name)}, "NextToken and StreamARN cannot be provided together."),
        ({"ExclusiveStartShardId": shard_id(0)},
         "NextToken and ExclusiveStartShardId cannot be provided together."),
        ({"ShardFilter": {"Type": "AT_LATEST"}}, "NextToken and ShardFilter cannot be provided together."),
        ({"StreamCreationTimestamp": 1700000000},
         "NextToken and StreamCreationTimestamp cannot be provided together."),
    ):
        with pytest.raises(ClientError) as ei:
            kinesis.list_shards(NextToken=tok, **extra)
        assert error_of(ei) == (400, "InvalidArgumentException", msg), extra


def test_list_shards_needs_name_or_token(raw_kinesis):
    with pytest.raises(ClientError) as ei:
        raw_kinesis.list_shards()
    assert error_of(ei) == (400, "InvalidArgumentException",
                            "Either NextToken or StreamName should be provided.")


def test_list_shards_garbage_next_token(kinesis):
    with pytest.raises(ClientError) as ei:
        kinesis.list_shards(NextToken="definitely-not-a-token")
    # AWS's answer to a token it never issued is not on record; ExpiredNextTokenException is
    # documented for expired tokens only. Type and text are kinesd's (docs/aws-behaviour.md §0.6).
    assert error_of(ei) == (400, "InvalidArgumentException", "Invalid NextToken: definitely-not-a-token")


def test_list_shards_exclusive_start_shard_id(kinesis, make_stream):
    name = make_stream(5)
    resp = kinesis.list_shards(StreamName=name, ExclusiveStartShardId=shard_id(1))
    assert _ids(resp) == [shard_id(2), shard_id(3), shard_id(4)]
    resp = kinesis.list_shards(StreamName=name, ExclusiveStartShardId=shard_id(4))
    assert _ids(resp) == []
    resp = kinesis.list_shards(StreamName=name, ExclusiveStartShardId=shard_id(0), MaxResults=1)
    assert _ids(resp) == [shard_id(1)]
    assert resp["NextToken"]


@pytest.mark.parametrize("filter_type", [
    "AT_LATEST", "AT_TRIM_HORIZON", "FROM_TRIM_HORIZON", "AT_TIMESTAMP", "FROM_TIMESTAMP",
])
def test_list_shards_filters_on_unresharded_stream(kinesis, make_stream, filter_type):
    name = make_stream(4)
    f = {"Type": filter_type}
    if filter_type in ("AT_TIMESTAMP", "FROM_TIMESTAMP"):
        time.sleep(1.1)  # boto3 sends whole seconds; make "now" lie after the creation second
        f["Timestamp"] = dt.datetime.now(dt.timezone.utc)
    resp = kinesis.list_shards(StreamName=name, ShardFilter=f)
    assert _ids(resp) == [shard_id(i) for i in range(4)]
    # The result tiles the hash space exactly, as KCL checks.
    ranges = [(int(s["HashKeyRange"]["StartingHashKey"]), int(s["HashKeyRange"]["EndingHashKey"]))
              for s in resp["Shards"]]
    assert ranges[0][0] == 0 and ranges[-1][1] == 2**128 - 1
    assert all(b[0] == a[1] + 1 for a, b in zip(ranges, ranges[1:]))


def test_list_shards_filter_after_shard_id(kinesis, make_stream):
    name = make_stream(4)
    resp = kinesis.list_shards(
        StreamName=name, ShardFilter={"Type": "AFTER_SHARD_ID", "ShardId": shard_id(1)}
    )
    assert _ids(resp) == [shard_id(2), shard_id(3)]


def test_list_shards_max_results_too_large(raw_kinesis, make_stream):
    name = make_stream(1)
    with pytest.raises(ClientError) as ei:
        raw_kinesis.list_shards(StreamName=name, MaxResults=10001)
    assert error_of(ei) == (
        400,
        "ValidationException",
        "1 validation error detected: Value '10001' at 'maxResults' failed to satisfy "
        "constraint: Member must have value less than or equal to 10000",
    )


def test_list_shards_unknown_stream(kinesis):
    with pytest.raises(ClientError) as ei:
        kinesis.list_shards(StreamName="no-such-stream-ls")
    assert error_of(ei) == (
        400,
        "ResourceNotFoundException",
        "Stream no-such-stream-ls under account 123456789012 not found.",
    )
