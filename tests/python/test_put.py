"""PutRecord and PutRecords: routing, sequence numbers, per-record results, limits."""

from __future__ import annotations

import os

import pytest
from botocore.exceptions import ClientError

from kinesd_harness import (
    MAX_HASH,
    error_of,
    expected_ranges,
    md5_hash_key,
    read_all,
    shard_for_hash,
    shard_id,
    unique_name,
)

TEN_MIB = 10 * 1024 * 1024


# --------------------------------------------------------------------------------- PutRecord


def test_put_record_returns_shard_and_increasing_sequence_numbers(kinesis, make_stream):
    name = make_stream(1)
    start = int(kinesis.list_shards(StreamName=name)["Shards"][0]["SequenceNumberRange"][
        "StartingSequenceNumber"])
    seqs = []
    for i in range(5):
        r = kinesis.put_record(StreamName=name, Data=f"r{i}".encode(), PartitionKey="pk")
        assert r["ShardId"] == shard_id(0)
        assert r["SequenceNumber"].isdigit() and len(r["SequenceNumber"]) == 56
        seqs.append(int(r["SequenceNumber"]))
    assert seqs == sorted(seqs) and len(set(seqs)) == 5
    assert seqs[0] > start


def test_sequence_number_encodes_shard(kinesis, make_stream):
    """Record sequence numbers follow AWS's v2 layout: version 2, shard index in bits 4..35."""
    name = make_stream(3)
    for i in range(3):
        lo, _ = expected_ranges(3)[i]
        r = kinesis.put_record(StreamName=name, Data=b"x", PartitionKey="p", ExplicitHashKey=str(lo))
        h = format(int(r["SequenceNumber"]), "x")
        assert len(h) == 47 and h[0] == "2" and h[-1] == "2"
        assert int(h[38:46], 16) == i
        assert int(h[10], 16) == i & 0xF
        start = kinesis.list_shards(StreamName=name)["Shards"][i]["SequenceNumberRange"][
            "StartingSequenceNumber"]
        assert int(r["SequenceNumber"]) > int(start)


def test_hash_routing_md5_big_endian(kinesis, make_stream):
    for n in (3, 5):
        name = make_stream(n)
        ranges = expected_ranges(n)
        keys = [f"key-{i}" for i in range(40)] + ["pk-1", "a", "ünïcødé-κλειδί", "🔥"]
        for pk in keys:
            r = kinesis.put_record(StreamName=name, Data=b"d", PartitionKey=pk)
            assert r["ShardId"] == shard_id(shard_for_hash(ranges, md5_hash_key(pk))), pk
        # Worked examples from the wire reference.
        assert md5_hash_key("pk-1") == 273922656776327812788301823748127981641
        assert md5_hash_key("a") == 16955237001963240173058271559858726497
        if n == 3:
            r1 = kinesis.put_record(StreamName=name, Data=b"d", PartitionKey="pk-1")
            r2 = kinesis.put_record(StreamName=name, Data=b"d", PartitionKey="a")
            assert (r1["ShardId"], r2["ShardId"]) == (shard_id(2), shard_id(0))


def test_explicit_hash_key_routing(kinesis, make_stream):
    name = make_stream(3)
    (lo0, hi0), (lo1, hi1), (lo2, hi2) = expected_ranges(3)
    cases = [(0, 0), (hi0, 0), (lo1, 1), (hi1, 1), (lo2, 2), (MAX_HASH, 2)]
    for ehk, want in cases:
        # PartitionKey "a" hashes to shard 0; the explicit key must win.
        r = kinesis.put_record(StreamName=name, Data=b"x", PartitionKey="a", ExplicitHashKey=str(ehk))
        assert r["ShardId"] == shard_id(want), ehk
    recs = read_all(kinesis, name, shard_id(2))
    assert len(recs) == 2 and all(x["PartitionKey"] == "a" for x in recs)


def test_explicit_hash_key_out_of_range(kinesis, make_stream):
    name = make_stream(1)
    too_big = str(2**128)
    with pytest.raises(ClientError) as ei:
        kinesis.put_record(StreamName=name, Data=b"x", PartitionKey="a", ExplicitHashKey=too_big)
    assert error_of(ei) == (
        400,
        "InvalidArgumentException",
        "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. "
        f"Specified value was {too_big}",
    )


def test_explicit_hash_key_pattern(raw_kinesis, make_stream):
    name = make_stream(1)
    with pytest.raises(ClientError) as ei:
        raw_kinesis.put_record(StreamName=name, Data=b"x", PartitionKey="a", ExplicitHashKey="-1")
    assert error_of(ei) == (
        400,
        "ValidationException",
        "1 validation error detected: Value '-1' at 'explicitHashKey' failed to satisfy "
        "constraint: Member must satisfy regular expression pattern: 0|([1-9]\\d{0,38})",
    )


def test_sequence_number_for_ordering(kinesis, make_stream):
    name = make_stream(2)
    r1 = kinesis.put_record(StreamName=name, Data=b"1", PartitionKey="same")
    r2 = kinesis.put_record(StreamName=name, Data=b"2", PartitionKey="same",
                            SequenceNumberForOrdering=r1["SequenceNumber"])
    r3 = kinesis.put_record(StreamName=name, Data=b"3", PartitionKey="same",
                            SequenceNumberForOrdering=r2["SequenceNumber"])
    assert r1["ShardId"] == r2["ShardId"] == r3["ShardId"]
    assert int(r1["SequenceNumber"]) < int(r2["SequenceNumber"]) < int(r3["SequenceNumber"])
    recs = read_all(kinesis, name, r1["ShardId"])
    assert [x["Data"] for x in recs] == [b"1", b"2", b"3"]


def test_data_round_trip_binary_and_empty(kinesis, make_stream):
    name = make_stream(1)
    payloads = [b"", b"\x00\x01\xff\xfe", os.urandom(1000), "ünïcødé 统一码 💣".encode()]
    seqs = [kinesis.put_record(StreamName=name, Data=p, PartitionKey="k")["SequenceNumber"]
            for p in payloads]
    recs = read_all(kinesis, name, shard_id(0))
    assert [r["Data"] for r in recs] == payloads
    assert [r["SequenceNumber"] for r in recs] == seqs
    assert all(r["PartitionKey"] == "k" for r in recs)


def test_partition_key_too_long(raw_kinesis, make_stream):
    name = make_stream(1)
    pk = "p" * 257
    with pytest.raises(ClientError) as ei:
        raw_kinesis.put_record(StreamName=name, Data=b"x", PartitionKey=pk)
    assert error_of(ei) == (
        400,
        "ValidationException",
        f"1 validation error detected: Value '{pk}' at 'partitionKey' failed to satisfy "
        "constraint: Member must have length less than or equal to 256",
    )
    # 256 is fine.
    assert raw_kinesis.put_record(StreamName=name, Data=b"x", PartitionKey="p" * 256)["ShardId"]


def test_put_record_data_over_10_mib(raw_kinesis, make_stream):
    name = make_stream(1, MaxRecordSizeInKiB=10240)
    with pytest.raises(ClientError) as ei:
        raw_kinesis.put_record(StreamName=name, Data=b"z" * (TEN_MIB + 1), PartitionKey="k")
    assert error_of(ei) == (
        400,
        "ValidationException",
        # Current AWS omits a blob's value ("Value at"); 2014-era AWS printed a HeapByteBuffer.
        "1 validation error detected: Value at 'data' failed to satisfy constraint: Member must "
        "have length less than or equal to 10485760",
    )


def test_put_record_10_mib_on_10_mib_stream(kinesis, make_stream):
    """The largest legal record (data + key = 10 MiB, ~13.4 MiB of JSON) goes in and comes out."""
    name = make_stream(1, MaxRecordSizeInKiB=10240)
    payload = os.urandom(TEN_MIB - 1)
    r = kinesis.put_record(StreamName=name, Data=payload, PartitionKey="k")
    it = kinesis.get_shard_iterator(StreamName=name, ShardId=r["ShardId"],
                                    ShardIteratorType="AT_SEQUENCE_NUMBER",
                                    StartingSequenceNumber=r["SequenceNumber"])["ShardIterator"]
    got = kinesis.get_records(ShardIterator=it)["Records"]
    assert len(got) == 1 and got[0]["Data"] == payload


def test_put_record_unknown_stream(kinesis):
    name = unique_name("ghost")
    with pytest.raises(ClientError) as ei:
        kinesis.put_record(StreamName=name, Data=b"x", PartitionKey="k")
    assert error_of(ei) == (
        400, "ResourceNotFoundException", f"Stream {name} under account 123456789012 not found."
    )


# -------------------------------------------------------------------------------- PutRecords


def test_put_records_results_in_order(kinesis, make_stream):
    name = make_stream(3)
    ranges = expected_ranges(3)
    records = []
    for i in range(30):
        rec = {"Data": f"rec-{i}".encode(), "PartitionKey": f"pk-{i}"}
        if i % 7 == 0:
            rec["ExplicitHashKey"] = str(ranges[i % 3][0])
        records.append(rec)
    resp = kinesis.put_records(StreamName=name, Records=records)
    assert resp["FailedRecordCount"] == 0
    assert len(resp["Records"]) == 30
    for i, (rec, res) in enumerate(zip(records, resp["Records"])):
        assert "ErrorCode" not in res and "ErrorMessage" not in res
        h = int(rec["ExplicitHashKey"]) if "ExplicitHashKey" in rec else md5_hash_key(rec["PartitionKey"])
        assert res["ShardId"] == shard_id(shard_for_hash(ranges, h)), i
        assert res["SequenceNumber"].isdigit() and len(res["SequenceNumber"]) == 56
    # Each shard holds exactly the records routed to it, ascending by sequence number, with the
    # sequence numbers PutRecords reported.
    for s in range(3):
        want = {r["SequenceNumber"]: records[i]["Data"]
                for i, r in enumerate(resp["Records"]) if r["ShardId"] == shard_id(s)}
        got = read_all(kinesis, name, shard_id(s))
        assert {g["SequenceNumber"]: g["Data"] for g in got} == want
        assert [int(g["SequenceNumber"]) for g in got] == sorted(int(k) for k in want)


def test_put_records_500_ok_501_rejected(raw_kinesis, make_stream):
    name = make_stream(2)
    recs = [{"Data": b"x", "PartitionKey": str(i)} for i in range(501)]
    ok = raw_kinesis.put_records(StreamName=name, Records=recs[:500])
    assert ok["FailedRecordCount"] == 0 and len(ok["Records"]) == 500
    with pytest.raises(ClientError) as ei:
        raw_kinesis.put_records(StreamName=name, Records=recs)
    status, code, msg = error_of(ei)
    assert (status, code) == (400, "ValidationException")
    assert msg.startswith("1 validation error detected: Value '")
    assert msg.endswith("' at 'records' failed to satisfy constraint: Member must have length "
                        "less than or equal to 500")


def test_put_records_empty_list(raw_kinesis, make_stream):
    name = make_stream(1)
    with pytest.raises(ClientError) as ei:
        raw_kinesis.put_records(StreamName=name, Records=[])
    assert error_of(ei) == (
        400,
        "ValidationException",
        "1 validation error detected: Value '[]' at 'records' failed to satisfy constraint: "
        "Member must have length greater than or equal to 1",
    )


def test_put_records_missing_partition_key(raw_kinesis, make_stream):
    name = make_stream(1)
    with pytest.raises(ClientError) as ei:
        raw_kinesis.put_records(StreamName=name, Records=[
            {"Data": b"a", "PartitionKey": "k"}, {"Data": b"b"}])
    assert error_of(ei) == (
        400,
        "ValidationException",
        "1 validation error detected: Value null at 'records.2.member.partitionKey' failed to "
        "satisfy constraint: Member must not be null",
    )


def test_put_records_record_over_10_mib(raw_kinesis, make_stream):
    name = make_stream(1, MaxRecordSizeInKiB=10240)
    n = TEN_MIB + 1
    with pytest.raises(ClientError) as ei:
        raw_kinesis.put_records(StreamName=name, Records=[
            {"Data": b"a", "PartitionKey": "k"}, {"Data": b"b" * n, "PartitionKey": "k"}])
    assert error_of(ei) == (
        400,
        "ValidationException",
        "1 validation error detected: Value at 'records.2.member.data' failed to satisfy "
        "constraint: Member must have length less than or equal to 10485760",
    )


def test_put_records_record_over_stream_max(kinesis, make_stream):
    """A record above the stream's MaxRecordSizeInKiB (1 MiB by default) but within the model's
    10 MiB fails the whole request with a ValidationException naming the record. AWS answered the
    KPL exactly so in 2025 (awslabs/amazon-kinesis-producer#680, a 1 MiB stream: "1 validation
    error detected: Value at 'records.1.member.data' failed to satisfy constraint: Member must
    have length less than or equal to 1048576"). It cannot be a per-record failure: the model
    allows only ProvisionedThroughputExceededException and InternalFailure there."""
    name = make_stream(1)
    big = b"q" * (1024 * 1024 + 1)
    constraint = "failed to satisfy constraint: Member must have length less than or equal to 1048576"
    with pytest.raises(ClientError) as ei:
        kinesis.put_records(StreamName=name, Records=[
            {"Data": b"ok", "PartitionKey": "k"}, {"Data": big, "PartitionKey": "k"}])
    assert error_of(ei) == (
        400, "ValidationException", f"1 validation error detected: Value at 'records.2.member.data' {constraint}")
    # Several oversized records are each listed, as AWS's validation lists every violating member
    # (2017 answers with the model's old 1 MiB limit, osquery/osquery#3568).
    with pytest.raises(ClientError) as ei:
        kinesis.put_records(StreamName=name, Records=[
            {"Data": big, "PartitionKey": "k"}, {"Data": b"ok", "PartitionKey": "k"},
            {"Data": big, "PartitionKey": "k"}])
    assert error_of(ei) == (
        400, "ValidationException",
        f"2 validation errors detected: Value at 'records.1.member.data' {constraint}; "
        f"Value at 'records.3.member.data' {constraint}")
    assert read_all(kinesis, name, shard_id(0)) == [], "a rejected request writes nothing"


def test_put_records_total_over_10_mib(kinesis, make_stream):
    name = make_stream(1, MaxRecordSizeInKiB=10240)
    chunk = b"t" * (3584 * 1024)  # 3 x 3.5 MiB = 10.5 MiB > 10 MiB request limit
    with pytest.raises(ClientError) as ei:
        kinesis.put_records(StreamName=name, Records=[
            {"Data": chunk, "PartitionKey": str(i)} for i in range(3)])
    # AWS answered "InvalidArgumentException: Records size exceeds 5 MB limit" (400) when the
    # request limit was 5 MB (aws/amazon-kinesis-streams-for-fluent-bit#21, 2020). The limit is
    # 10 MiB since 2025; the "10" in the text is kinesd's inference, not a recorded AWS answer.
    assert error_of(ei) == (400, "InvalidArgumentException", "Records size exceeds 10 MB limit")
    assert read_all(kinesis, name, shard_id(0)) == []


def test_put_records_explicit_hash_key_out_of_range(kinesis, make_stream):
    name = make_stream(1)
    with pytest.raises(ClientError) as ei:
        kinesis.put_records(StreamName=name, Records=[
            {"Data": b"a", "PartitionKey": "k"},
            {"Data": b"b", "PartitionKey": "k", "ExplicitHashKey": str(2**128 + 5)}])
    assert error_of(ei) == (
        400,
        "InvalidArgumentException",
        "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. "
        f"Specified value was {2**128 + 5}",
    )
    assert read_all(kinesis, name, shard_id(0)) == [], "a rejected request writes nothing"


def test_put_records_unknown_stream(kinesis):
    name = unique_name("ghost")
    with pytest.raises(ClientError) as ei:
        kinesis.put_records(StreamName=name, Records=[{"Data": b"x", "PartitionKey": "k"}])
    assert error_of(ei) == (
        400, "ResourceNotFoundException", f"Stream {name} under account 123456789012 not found."
    )


def test_put_records_malformed_base64_is_serialization_error(server, make_stream):
    from kinesd_harness import raw_post, target

    name = make_stream(1)
    resp = raw_post(server, target("PutRecords"), {
        "StreamName": name, "Records": [{"Data": "23456", "PartitionKey": "k"}]})
    assert resp.status_code == 400
    # AWS spells this error's member `Message`, capital M (kinesalite's assertSerialization).
    assert resp.json() == {
        "__type": "SerializationException",
        "Message": "'23456' can not be converted to a Blob: Base64 encoded length is expected a multiple "
                   "of 4 bytes but found: 5"}
