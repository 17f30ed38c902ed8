"""Resharding through boto3: SplitShard, MergeShards, UpdateShardCount, their errors, lineage,
ListShards' filters after them, and reading across shard ends the way the KCL does."""

from __future__ import annotations

import time

import pytest
from botocore.exceptions import ClientError

from kinesd_harness import MAX_HASH, error_of, expected_ranges, shard_id, wait_for_status


def _ranges(shards):
    return sorted(
        (int(s["HashKeyRange"]["StartingHashKey"]), int(s["HashKeyRange"]["EndingHashKey"]))
        for s in shards
    )


def _assert_tiles(shards, what=""):
    r = _ranges(shards)
    assert r and r[0][0] == 0 and r[-1][1] == MAX_HASH, (what, r)
    for (_, end), (start, _) in zip(r, r[1:]):
        assert start == end + 1, (what, r)


def _list(kinesis, name, **filt):
    kwargs = {"StreamName": name}
    if filt:
        kwargs["ShardFilter"] = filt
    shards, resp = [], kinesis.list_shards(**kwargs)
    while True:
        shards += resp["Shards"]
        if "NextToken" not in resp:
            return shards
        resp = kinesis.list_shards(NextToken=resp["NextToken"])


def _ids(shards):
    return [s["ShardId"] for s in shards]


def _put(kinesis, name, ehk, data):
    r = kinesis.put_record(StreamName=name, Data=data, PartitionKey="pk", ExplicitHashKey=str(ehk))
    return r["ShardId"], r["SequenceNumber"]


def test_split_then_merge_back_with_lineage(kinesis, make_stream, server):
    name = make_stream(1)
    _put(kinesis, name, 1, b"a")
    assert kinesis.split_shard(
        StreamName=name, ShardToSplit=shard_id(0), NewStartingHashKey=str(2**127)
    )["ResponseMetadata"]["HTTPStatusCode"] == 200
    d = kinesis.describe_stream(StreamName=name)["StreamDescription"]
    assert d["StreamStatus"] == "UPDATING"
    assert _ids(d["Shards"]) == [shard_id(0)]
    assert "EndingSequenceNumber" not in d["Shards"][0]["SequenceNumberRange"]
    assert _put(kinesis, name, 1, b"b")[0] == shard_id(0)
    wait_for_status(kinesis, name, "ACTIVE")

    shards = _list(kinesis, name)
    assert _ids(shards) == [shard_id(i) for i in range(3)]
    assert "EndingSequenceNumber" in shards[0]["SequenceNumberRange"]
    assert [s.get("ParentShardId") for s in shards] == [None, shard_id(0), shard_id(0)]
    assert _ranges(shards[1:]) == [(0, 2**127 - 1), (2**127, MAX_HASH)]
    assert _put(kinesis, name, 1, b"c")[0] == shard_id(1)

    kinesis.merge_shards(
        StreamARN=server.arn(name), ShardToMerge=shard_id(1), AdjacentShardToMerge=shard_id(2)
    )
    wait_for_status(kinesis, name, "ACTIVE")
    shards = _list(kinesis, name)
    assert shards[3]["ParentShardId"] == shard_id(1)
    assert shards[3]["AdjacentParentShardId"] == shard_id(2)
    assert _ranges([shards[3]]) == [(0, MAX_HASH)]
    assert _ids(_list(kinesis, name, Type="AT_LATEST")) == [shard_id(3)]
    assert _ids(_list(kinesis, name, Type="AT_TRIM_HORIZON")) == [shard_id(0)]
    assert _ids(_list(kinesis, name, Type="FROM_TRIM_HORIZON")) == [shard_id(i) for i in range(4)]
    assert _ids(_list(kinesis, name, Type="AFTER_SHARD_ID", ShardId=shard_id(1))) == [
        shard_id(2), shard_id(3)]

    # Read like the KCL: parent, then its children, then the merge child.
    seen = []
    for sid in [shard_id(0), shard_id(1), shard_id(2), shard_id(3)]:
        it = kinesis.get_shard_iterator(
            StreamName=name, ShardId=sid, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        while it:
            page = kinesis.get_records(ShardIterator=it)
            seen += [r["Data"] for r in page["Records"]]
            if sid == shard_id(3) and not page["Records"]:
                break
            it = page.get("NextShardIterator")
            if it is None:
                assert page["ChildShards"], sid
    assert seen == [b"a", b"b", b"c"]


def test_reshard_errors(kinesis, make_stream, server):
    name = make_stream(3)
    acct = server.account_id
    tail = f"in stream {name} under account {acct}"
    with pytest.raises(ClientError) as e:
        kinesis.split_shard(StreamName=name, ShardToSplit="2.14E4", NewStartingHashKey="5")
    assert error_of(e) == (400, "ResourceNotFoundException", f"Could not find shard 2.14E4 {tail}.")
    with pytest.raises(ClientError) as e:
        kinesis.split_shard(StreamName=name, ShardToSplit="shard-0",
                            NewStartingHashKey="113427455640312821154458202477256070484")
    assert error_of(e)[1] == "InvalidArgumentException"
    assert error_of(e)[2] == (
        "NewStartingHashKey 113427455640312821154458202477256070484 used in SplitShard() on shard "
        f"shardId-000000000000 {tail} is not both greater than one plus the shard's StartingHashKey 0 "
        "and less than the shard's EndingHashKey 113427455640312821154458202477256070484.")
    with pytest.raises(ClientError) as e:
        kinesis.merge_shards(StreamName=name, ShardToMerge="shard-2", AdjacentShardToMerge="shard-1")
    assert error_of(e) == (
        400, "InvalidArgumentException",
        f"Shards shardId-000000000002 and shardId-000000000001 {tail} are not an adjacent pair of "
        "shards eligible for merging")
    with pytest.raises(ClientError) as e:
        kinesis.merge_shards(StreamName=name, ShardToMerge="shard-0", AdjacentShardToMerge="shard-7")
    assert error_of(e) == (400, "ResourceNotFoundException",
                           f"Could not find shard shardId-000000000007 {tail}.")
    with pytest.raises(ClientError) as e:
        kinesis.update_shard_count(StreamName=name, TargetShardCount=7, ScalingType="UNIFORM_SCALING")
    assert error_of(e) == (
        400, "LimitExceededException",
        "UpdateShardCount cannot scale up over double your current open shard count. "
        "Current open shard count: 3, Target shard count: 7")


def test_update_shard_count_validation_from_the_server(raw_kinesis, make_stream):
    name = make_stream(1)
    with pytest.raises(ClientError) as e:
        raw_kinesis.update_shard_count(StreamName=name, TargetShardCount=0, ScalingType="X")
    assert error_of(e) == (
        400, "ValidationException",
        "2 validation errors detected: Value 'X' at 'scalingType' failed to satisfy constraint: "
        "Member must satisfy enum value set: [UNIFORM_SCALING]; Value '0' at 'targetShardCount' "
        "failed to satisfy constraint: Member must have value greater than or equal to 1")


def test_update_shard_count_is_uniform_and_rate_limited(kinesis, make_stream):
    name = make_stream(4)
    out = kinesis.update_shard_count(StreamName=name, TargetShardCount=6,
                                     ScalingType="UNIFORM_SCALING")
    assert (out["CurrentShardCount"], out["TargetShardCount"], out["StreamName"]) == (4, 6, name)
    wait_for_status(kinesis, name, "ACTIVE")
    latest = _list(kinesis, name, Type="AT_LATEST")
    assert _ranges(latest) == expected_ranges(6)
    everything = _list(kinesis, name)
    # Every shard created by the scaling descends from a shard that existed before.
    by_id = {s["ShardId"]: s for s in everything}
    for s in everything[4:]:
        assert s["ParentShardId"] in by_id
    # Nine more scalings fit in the rolling day; the eleventh does not.
    counts = [3, 6] * 5
    for i, target in enumerate(counts[:9]):
        kinesis.update_shard_count(StreamName=name, TargetShardCount=target,
                                   ScalingType="UNIFORM_SCALING")
        wait_for_status(kinesis, name, "ACTIVE")
        _assert_tiles(_list(kinesis, name, Type="AT_LATEST"), f"after scaling {i}")
    with pytest.raises(ClientError) as e:
        kinesis.update_shard_count(StreamName=name, TargetShardCount=4,
                                   ScalingType="UNIFORM_SCALING")
    assert error_of(e)[1] == "LimitExceededException"


def test_at_timestamp_tiles_at_every_instant_around_a_reshard(kinesis, make_stream):
    name = make_stream(2)
    t0 = time.time()
    kinesis.split_shard(StreamName=name, ShardToSplit=shard_id(1),
                        NewStartingHashKey=str(3 * 2**126))
    wait_for_status(kinesis, name, "ACTIVE")
    t1 = time.time()
    # Within the second after the close the children exist but report a later creation time.
    for t in [t0, t1 - 0.05, t1, t1 + 0.5, t1 + 2]:
        shards = _list(kinesis, name, Type="AT_TIMESTAMP", Timestamp=t)
        _assert_tiles(shards, f"AT_TIMESTAMP {t - t0:.2f}")
    assert _ids(_list(kinesis, name, Type="AT_TIMESTAMP", Timestamp=t0)) == [shard_id(0), shard_id(1)]
    assert _ids(_list(kinesis, name, Type="AT_TIMESTAMP", Timestamp=t1 + 2)) == [
        shard_id(0), shard_id(2), shard_id(3)]
    assert _ids(_list(kinesis, name, Type="FROM_TIMESTAMP", Timestamp=t1 + 2)) == [
        shard_id(0), shard_id(2), shard_id(3)]
