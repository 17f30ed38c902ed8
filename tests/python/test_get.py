"""GetShardIterator (all five types) and GetRecords."""

from __future__ import annotations

import base64
import datetime as dt
import math
import re
import time

import pytest
from botocore.exceptions import ClientError

from conftest import served
from kinesd_harness import (
    error_of,
    expected_ranges,
    read_all,
    shard_id,
    unique_name,
    wait_for_status,
    wait_until_gone,
)

MUST_EITHER = ("Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and "
               "StartingSequenceNumber or (2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. ")


def _put(kinesis, name, n, pk="k", prefix="r"):
    return [kinesis.put_record(StreamName=name, Data=f"{prefix}{i}".encode(), PartitionKey=pk)
            for i in range(n)]


def _iter(kinesis, name, shard=0, **kw):
    return kinesis.get_shard_iterator(StreamName=name, ShardId=shard_id(shard), **kw)["ShardIterator"]


def test_trim_horizon_reads_everything_exactly(kinesis, make_stream):
    name = make_stream(1)
    t0 = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=2)
    puts = _put(kinesis, name, 3)
    resp = kinesis.get_records(ShardIterator=_iter(kinesis, name, ShardIteratorType="TRIM_HORIZON"))
    recs = resp["Records"]
    assert [r["Data"] for r in recs] == [b"r0", b"r1", b"r2"]
    assert [r["SequenceNumber"] for r in recs] == [p["SequenceNumber"] for p in puts]
    assert [r["PartitionKey"] for r in recs] == ["k", "k", "k"]
    for r in recs:
        ts = r["ApproximateArrivalTimestamp"]
        assert isinstance(ts, dt.datetime) and t0 <= ts <= t0 + dt.timedelta(seconds=60)
        assert set(r) <= {"SequenceNumber", "ApproximateArrivalTimestamp", "Data", "PartitionKey",
                          "EncryptionType"}
    assert isinstance(resp["MillisBehindLatest"], int) and resp["MillisBehindLatest"] >= 0
    assert resp["NextShardIterator"]
    assert "ChildShards" not in resp or resp["ChildShards"] == []


def test_get_records_limit_and_fresh_iterators(kinesis, make_stream):
    name = make_stream(1)
    puts = _put(kinesis, name, 5)
    it = _iter(kinesis, name, ShardIteratorType="TRIM_HORIZON")
    seen_iters = {it}
    got = []
    sizes = []
    last = None
    for _ in range(6):
        resp = kinesis.get_records(ShardIterator=it, Limit=2)
        sizes.append(len(resp["Records"]))
        got += resp["Records"]
        assert isinstance(resp["MillisBehindLatest"], int) and resp["MillisBehindLatest"] >= 0
        it = resp["NextShardIterator"]
        assert it not in seen_iters, "every GetRecords returns a new iterator"
        assert len(it) <= 512
        seen_iters.add(it)
        last = resp
    assert sizes == [2, 2, 1, 0, 0, 0]
    assert [r["SequenceNumber"] for r in got] == [p["SequenceNumber"] for p in puts]
    assert last["MillisBehindLatest"] == 0, "caught up with the tip"


def test_get_records_limit_bounds(raw_kinesis, kinesis, make_stream):
    name = make_stream(1)
    it = _iter(kinesis, name, ShardIteratorType="TRIM_HORIZON")
    with pytest.raises(ClientError) as ei:
        raw_kinesis.get_records(ShardIterator=it, Limit=10001)
    assert error_of(ei) == (
        400, "ValidationException",
        "1 validation error detected: Value '10001' at 'limit' failed to satisfy constraint: "
        "Member must have value less than or equal to 10000")
    with pytest.raises(ClientError) as ei:
        raw_kinesis.get_records(ShardIterator=it, Limit=0)
    assert error_of(ei) == (
        400, "ValidationException",
        "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: "
        "Member must have value greater than or equal to 1")


def test_empty_shard_still_returns_new_iterators(kinesis, make_stream):
    name = make_stream(1)
    it = _iter(kinesis, name, ShardIteratorType="TRIM_HORIZON")
    iters = [it]
    for _ in range(3):
        resp = kinesis.get_records(ShardIterator=iters[-1])
        assert resp["Records"] == []
        assert resp["MillisBehindLatest"] == 0
        iters.append(resp["NextShardIterator"])
    assert len(set(iters)) == 4


def test_latest_sees_only_later_records(kinesis, make_stream):
    name = make_stream(1)
    _put(kinesis, name, 2, prefix="old")
    it = _iter(kinesis, name, ShardIteratorType="LATEST")
    first = kinesis.get_records(ShardIterator=it)
    assert first["Records"] == []
    new = _put(kinesis, name, 2, prefix="new")
    via_next = kinesis.get_records(ShardIterator=first["NextShardIterator"])["Records"]
    assert [r["Data"] for r in via_next] == [b"new0", b"new1"]
    # A LATEST iterator is pinned where it was created: re-reading it gives the same records.
    again = kinesis.get_records(ShardIterator=it)["Records"]
    assert [r["SequenceNumber"] for r in again] == [p["SequenceNumber"] for p in new]


def test_at_and_after_sequence_number(kinesis, make_stream):
    name = make_stream(1)
    puts = _put(kinesis, name, 4)
    s1 = puts[1]["SequenceNumber"]
    at = read_all(kinesis, name, shard_id(0), "AT_SEQUENCE_NUMBER", StartingSequenceNumber=s1)
    assert [r["Data"] for r in at] == [b"r1", b"r2", b"r3"]
    after = read_all(kinesis, name, shard_id(0), "AFTER_SEQUENCE_NUMBER", StartingSequenceNumber=s1)
    assert [r["Data"] for r in after] == [b"r2", b"r3"]
    end = read_all(kinesis, name, shard_id(0), "AFTER_SEQUENCE_NUMBER",
                   StartingSequenceNumber=puts[-1]["SequenceNumber"])
    assert end == []
    # The shard's StartingSequenceNumber is a valid AT_SEQUENCE_NUMBER position (= TRIM_HORIZON).
    start = kinesis.list_shards(StreamName=name)["Shards"][0]["SequenceNumberRange"][
        "StartingSequenceNumber"]
    from_start = read_all(kinesis, name, shard_id(0), "AT_SEQUENCE_NUMBER",
                          StartingSequenceNumber=start)
    assert [r["Data"] for r in from_start] == [b"r0", b"r1", b"r2", b"r3"]


def test_at_timestamp_whole_seconds(kinesis, make_stream):
    """boto3 sends integer seconds; the first record at or after T is returned."""
    name = make_stream(1)
    _put(kinesis, name, 2, prefix="before")
    boundary = math.floor(time.time()) + 1
    while time.time() < boundary + 0.05:
        time.sleep(0.02)
    _put(kinesis, name, 2, prefix="after")
    ts = dt.datetime.fromtimestamp(boundary, dt.timezone.utc)
    recs = read_all(kinesis, name, shard_id(0), "AT_TIMESTAMP", Timestamp=ts)
    assert [r["Data"] for r in recs] == [b"after0", b"after1"]
    # A timestamp before the stream existed behaves like TRIM_HORIZON.
    old = dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)
    recs = read_all(kinesis, name, shard_id(0), "AT_TIMESTAMP", Timestamp=old)
    assert [r["Data"] for r in recs] == [b"before0", b"before1", b"after0", b"after1"]


def test_at_timestamp_in_future(kinesis, make_stream):
    name = make_stream(1)
    future = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)
    with pytest.raises(ClientError) as ei:
        _iter(kinesis, name, ShardIteratorType="AT_TIMESTAMP", Timestamp=future)
    status, code, msg = error_of(ei)
    assert (status, code) == (400, "InvalidArgumentException")
    m = re.fullmatch(r"The timestampInMillis parameter cannot be greater than the "
                     r"currentTimestampInMillis\. timestampInMillis: (\d+), "
                     r"currentTimestampInMillis: (\d+)", msg)
    assert m, msg
    assert int(m.group(1)) == int(future.timestamp()) * 1000
    assert abs(int(m.group(2)) - time.time() * 1000) < 60_000


def test_at_timestamp_without_timestamp(kinesis, make_stream):
    name = make_stream(1)
    with pytest.raises(ClientError) as ei:
        _iter(kinesis, name, ShardIteratorType="AT_TIMESTAMP")
    assert error_of(ei) == (
        400, "InvalidArgumentException",
        "Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. "
        "Current request has no timestamp parameter.")


@pytest.mark.parametrize("itype,seq,tail", [
    ("AT_SEQUENCE_NUMBER", None, "Request specified AT_SEQUENCE_NUMBER and no StartingSequenceNumber."),
    ("AFTER_SEQUENCE_NUMBER", None, "Request specified AFTER_SEQUENCE_NUMBER and no StartingSequenceNumber."),
    ("TRIM_HORIZON", "START", "Request specified TRIM_HORIZON and also a StartingSequenceNumber."),
    ("LATEST", "START", "Request specified LATEST and also a StartingSequenceNumber."),
])
def test_iterator_type_and_sequence_number_combination(kinesis, make_stream, itype, seq, tail):
    name = make_stream(1)
    kw = {}
    if seq == "START":
        kw["StartingSequenceNumber"] = kinesis.list_shards(StreamName=name)["Shards"][0][
            "SequenceNumberRange"]["StartingSequenceNumber"]
    with pytest.raises(ClientError) as ei:
        _iter(kinesis, name, ShardIteratorType=itype, **kw)
    assert error_of(ei) == (400, "InvalidArgumentException", MUST_EITHER + tail)


def test_sequence_number_of_another_shard(kinesis, make_stream):
    name = make_stream(2)
    lo1 = expected_ranges(2)[1][0]
    r = kinesis.put_record(StreamName=name, Data=b"x", PartitionKey="k", ExplicitHashKey=str(lo1))
    assert r["ShardId"] == shard_id(1)
    with pytest.raises(ClientError) as ei:
        _iter(kinesis, name, 0, ShardIteratorType="AT_SEQUENCE_NUMBER",
              StartingSequenceNumber=r["SequenceNumber"])
    assert error_of(ei) == (
        400, "InvalidArgumentException",
        "Invalid StartingSequenceNumber. It encodes shardId-000000000001, while it was used in "
        "a call to a shard with shardId-000000000000")


def test_malformed_sequence_number(kinesis, make_stream):
    name = make_stream(1)
    for bad in ("12345", "9" * 56, "2" + "0" * 60):
        with pytest.raises(ClientError) as ei:
            _iter(kinesis, name, ShardIteratorType="AT_SEQUENCE_NUMBER", StartingSequenceNumber=bad)
        status, code, _ = error_of(ei)
        assert (status, code) == (400, "InvalidArgumentException"), bad


def test_unknown_shard(kinesis, make_stream):
    name = make_stream(2)
    with pytest.raises(ClientError) as ei:
        _iter(kinesis, name, 7, ShardIteratorType="LATEST")
    assert error_of(ei) == (
        400, "ResourceNotFoundException",
        f"Shard shardId-000000000007 in stream {name} under account 123456789012 does not exist")


def test_shard_id_shorthand(kinesis, make_stream):
    name = make_stream(2)
    lo1 = expected_ranges(2)[1][0]
    kinesis.put_record(StreamName=name, Data=b"one", PartitionKey="k", ExplicitHashKey=str(lo1))
    for alias in ("shardId-1", "shard-1", "1"):
        it = kinesis.get_shard_iterator(StreamName=name, ShardId=alias,
                                        ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        assert [r["Data"] for r in kinesis.get_records(ShardIterator=it)["Records"]] == [b"one"]


def test_unknown_stream_iterator(kinesis):
    name = unique_name("nostream")
    with pytest.raises(ClientError) as ei:
        kinesis.get_shard_iterator(StreamName=name, ShardId=shard_id(0), ShardIteratorType="LATEST")
    assert error_of(ei) == (
        400, "ResourceNotFoundException",
        f"Shard shardId-000000000000 in stream {name} under account 123456789012 does not exist")


# ------------------------------------------------------------------------- iterator integrity


def test_garbage_iterator_is_invalid_argument(kinesis):
    for bad in ("not-an-iterator", "AAAAAAAAAAE" + "A" * 200, "x", base64.b64encode(b"\0" * 100).decode()):
        with pytest.raises(ClientError) as ei:
            kinesis.get_records(ShardIterator=bad)
        assert error_of(ei) == (400, "InvalidArgumentException", "Invalid ShardIterator."), bad


def test_tampered_iterator_is_400_never_500(kinesis, make_stream):
    name = make_stream(1)
    _put(kinesis, name, 1)
    good = _iter(kinesis, name, ShardIteratorType="TRIM_HORIZON")
    raw = bytearray(base64.b64decode(good))
    variants = []
    for pos in (len(raw) // 2, len(raw) - 1, 9, 0):
        mutated = bytearray(raw)
        mutated[pos] ^= 0x01
        variants.append(base64.b64encode(bytes(mutated)).decode())
    variants.append(base64.b64encode(bytes(raw[:-1])).decode())          # truncated
    variants.append(base64.b64encode(bytes(raw) + b"\x00" * 16).decode())  # extended
    chars = list(good)
    chars[len(chars) // 3] = "B" if chars[len(chars) // 3] != "B" else "C"
    variants.append("".join(chars))
    for bad in variants:
        assert bad != good
        with pytest.raises(ClientError) as ei:
            kinesis.get_records(ShardIterator=bad)
        status, code, msg = error_of(ei)
        assert status == 400, (status, code, msg)
        assert (code, msg) == ("InvalidArgumentException", "Invalid ShardIterator.")
    # The untouched iterator still works.
    assert [r["Data"] for r in kinesis.get_records(ShardIterator=good)["Records"]] == [b"r0"]


def test_iterator_wrapped_in_quotes_is_accepted(kinesis, make_stream):
    name = make_stream(1)
    _put(kinesis, name, 1)
    it = _iter(kinesis, name, ShardIteratorType="TRIM_HORIZON")
    resp = kinesis.get_records(ShardIterator=f'"{it}"')
    assert [r["Data"] for r in resp["Records"]] == [b"r0"]


def test_iterator_of_deleted_stream(kinesis):
    name = unique_name("gone")
    kinesis.create_stream(StreamName=name, ShardCount=1)
    wait_for_status(kinesis, name, "ACTIVE")
    it = _iter(kinesis, name, ShardIteratorType="LATEST")
    kinesis.delete_stream(StreamName=name)
    wait_until_gone(kinesis, name)
    with pytest.raises(ClientError) as ei:
        kinesis.get_records(ShardIterator=it)
    assert error_of(ei) == (
        400, "ResourceNotFoundException",
        f"Shard shardId-000000000000 in stream {name} under account 123456789012 does not exist")


def test_iterator_of_recreated_stream_does_not_read_new_incarnation(kinesis):
    """An iterator reads only the stream incarnation it was issued for. A LATEST iterator taken
    after 3 records sits at position 3; if it were honoured on a same-named successor holding 5
    records it would return the 4th and 5th and silently skip the first three. The only AWS
    evidence is a note, not an assertion: kinesalite's author, running its suite against
    production in 2018 (test/getRecords.js, commit 7d62e92), commented the old-incarnation call
    out with "This now causes an InternalFailure on production"; no response body is recorded.
    kinesd follows that note. ResourceNotFoundException for a shard the new incarnation lacks is
    asserted by the same test against AWS."""
    name = unique_name("reinc")
    kinesis.create_stream(StreamName=name, ShardCount=2)
    wait_for_status(kinesis, name, "ACTIVE")
    # All three old records land in shard 0 (pinned by hash key), so LATEST on shard 0 is position 3.
    for i in range(3):
        kinesis.put_record(StreamName=name, Data=f"old{i}".encode(), PartitionKey="k",
                           ExplicitHashKey="0")
    it0 = _iter(kinesis, name, 0, ShardIteratorType="LATEST")
    it1 = _iter(kinesis, name, 1, ShardIteratorType="LATEST")
    kinesis.delete_stream(StreamName=name)
    wait_until_gone(kinesis, name)
    kinesis.create_stream(StreamName=name, ShardCount=1)
    wait_for_status(kinesis, name, "ACTIVE")
    new = _put(kinesis, name, 5, prefix="new")
    # The new incarnation holds the five records; a fresh iterator sees all of them.
    fresh = kinesis.get_records(ShardIterator=_iter(kinesis, name, ShardIteratorType="TRIM_HORIZON"))
    assert [r["SequenceNumber"] for r in fresh["Records"]] == [p["SequenceNumber"] for p in new]
    with pytest.raises(ClientError) as ei:
        kinesis.get_records(ShardIterator=it0)
    assert error_of(ei) == (500, "InternalFailure", "")
    with pytest.raises(ClientError) as ei:
        kinesis.get_records(ShardIterator=it1)
    assert error_of(ei) == (
        400, "ResourceNotFoundException",
        f"Shard shardId-000000000001 in stream {name} under account 123456789012 does not exist")
    kinesis.delete_stream(StreamName=name)


def test_get_records_stream_arn_must_name_the_iterators_stream(kinesis, raw_kinesis, make_stream, server):
    """GetRecords' optional StreamARN must name the stream the iterator came from. AWS's answer to
    a disagreeing StreamARN is not on record; kinesd refuses it with InvalidArgumentException
    (type and wording are kinesd's own, docs/aws-behaviour.md §14) instead of ignoring it."""
    a, b = make_stream(1), make_stream(1)
    _put(kinesis, a, 2)
    it = _iter(kinesis, a, ShardIteratorType="TRIM_HORIZON")
    for named in (b, unique_name("absent")):
        with pytest.raises(ClientError) as ei:
            kinesis.get_records(ShardIterator=it, StreamARN=server.arn(named))
        assert error_of(ei) == (
            400, "InvalidArgumentException",
            f"StreamARN {server.arn(named)} does not match the stream {a} of the ShardIterator.")
    # A StreamARN of another account is a stream this server does not have, as for every operation.
    foreign = f"arn:aws:kinesis:{server.region}:000011112222:stream/{a}"
    with pytest.raises(ClientError) as ei:
        kinesis.get_records(ShardIterator=it, StreamARN=foreign)
    assert error_of(ei) == (400, "ResourceNotFoundException", f"Stream {a} under account 000011112222 not found.")
    # The iterator's own StreamARN reads as if it were absent.
    resp = kinesis.get_records(ShardIterator=it, StreamARN=server.arn(a))
    assert [r["Data"] for r in resp["Records"]] == [b"r0", b"r1"]


# -------------------------------------------------------------------------------- expiry


@pytest.fixture(scope="module")
def short_ttl_server(request):
    srv = served(request, create_ms=50, delete_ms=50, update_ms=50, iterator_ttl_seconds=1)
    yield srv
    srv.stop()


@pytest.mark.slow
def test_expired_iterator(short_ttl_server):
    k = short_ttl_server.client()
    name = unique_name("ttl")
    k.create_stream(StreamName=name, ShardCount=1)
    wait_for_status(k, name, "ACTIVE")
    k.put_record(StreamName=name, Data=b"x", PartitionKey="k")
    it = k.get_shard_iterator(StreamName=name, ShardId=shard_id(0),
                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    fresh = k.get_records(ShardIterator=it)  # within the TTL: fine
    assert [r["Data"] for r in fresh["Records"]] == [b"x"]
    time.sleep(2.2)
    for stale in (it, fresh["NextShardIterator"]):
        with pytest.raises(ClientError) as ei:
            k.get_records(ShardIterator=stale)
        status, code, msg = error_of(ei)
        assert (status, code) == (400, "ExpiredIteratorException")
        assert re.fullmatch(
            r"Iterator expired\. The iterator was created at time \w{3} \w{3} \d{2} "
            r"\d{2}:\d{2}:\d{2} UTC \d{4} while right now it is \w{3} \w{3} \d{2} "
            r"\d{2}:\d{2}:\d{2} UTC \d{4} which is further in the future than the tolerated "
            r"delay of 1000 milliseconds\.", msg), msg
    # A new iterator works again.
    it2 = k.get_shard_iterator(StreamName=name, ShardId=shard_id(0),
                               ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    assert [r["Data"] for r in k.get_records(ShardIterator=it2)["Records"]] == [b"x"]
