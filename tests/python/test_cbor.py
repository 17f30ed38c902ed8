"""CBOR (application/x-amz-cbor-1.1), the Java SDKs' default protocol, with raw signed bodies.

Requests are written as the Java SDKs' Jackson generator writes them: indefinite-length maps,
byte-string blobs, tag 1 around integer milliseconds. Responses are read with a small decoder
below that keeps tags and the text/byte distinction visible (cbor2 would turn tag 1 into a
datetime of *seconds* and fail on AWS's milliseconds), and checked byte by byte where it matters.
"""

from __future__ import annotations

import base64
import json
import os
import struct
import time

import cbor2
import pytest
import requests

from kinesd_harness import raw_post, signed_headers, target, unique_name, wait_for_status

CBOR_CT = "application/x-amz-cbor-1.1"


class Tag:
    def __init__(self, tag, value):
        self.tag, self.value = tag, value

    def __eq__(self, other):
        return isinstance(other, Tag) and (self.tag, self.value) == (other.tag, other.value)

    def __repr__(self):
        return f"Tag({self.tag}, {self.value!r})"


def indefinite(value) -> bytes:
    """CBOR as Jackson writes it: every map indefinite-length; lists, scalars via cbor2."""
    if isinstance(value, dict):
        out = b"\xbf"
        for k, v in value.items():
            out += cbor2.dumps(k) + indefinite(v)
        return out + b"\xff"
    if isinstance(value, list):
        return b"\x9f" + b"".join(indefinite(v) for v in value) + b"\xff"
    if isinstance(value, Tag):
        return cbor2.dumps(cbor2.CBORTag(value.tag, value.value))
    return cbor2.dumps(value)


def decode(data: bytes):
    """A strict reader of one CBOR document; tags come back as Tag."""
    pos = 0

    def arg(info):
        nonlocal pos
        if info < 24:
            return info
        if info == 31:
            return None
        size = {24: 1, 25: 2, 26: 4, 27: 8}[info]
        n = int.from_bytes(data[pos:pos + size], "big")
        pos += size
        return n

    def item():
        nonlocal pos
        ib = data[pos]
        pos += 1
        major, info = ib >> 5, ib & 0x1F
        if major == 7:
            if info == 20:
                return False
            if info == 21:
                return True
            if info == 22:
                return None
            if info in (25, 26, 27):
                size = {25: 2, 26: 4, 27: 8}[info]
                raw = data[pos:pos + size]
                pos += size
                return struct.unpack({2: ">e", 4: ">f", 8: ">d"}[size], raw)[0]
            raise AssertionError(f"simple value {info}")
        n = arg(info)
        if major == 0:
            return n
        if major == 1:
            return -1 - n
        if major in (2, 3):
            assert n is not None, "kinesd writes definite strings"
            raw = data[pos:pos + n]
            pos += n
            return bytes(raw) if major == 2 else raw.decode("utf-8")
        if major == 4:
            items = []
            if n is None:
                while data[pos] != 0xFF:
                    items.append(item())
                pos += 1
            else:
                items = [item() for _ in range(n)]
            return items
        if major == 5:
            members = {}
            if n is None:
                while data[pos] != 0xFF:
                    k = item()
                    assert isinstance(k, str), k
                    members[k] = item()
                pos += 1
            else:
                for _ in range(n):
                    k = item()
                    assert isinstance(k, str), k
                    members[k] = item()
            return members
        return Tag(n, item())

    value = item()
    assert pos == len(data), "trailing bytes"
    return value


def cbor_post(server, op: str, body, *, raw: bool = False):
    payload = body if raw else indefinite(body)
    headers = signed_headers(server, target(op), payload, {"Content-Type": CBOR_CT})
    return requests.post(server.endpoint + "/", data=payload, headers=headers, timeout=30)


def ok(server, op: str, body) -> dict:
    resp = cbor_post(server, op, body)
    assert resp.status_code == 200, (resp.status_code, resp.content)
    if not resp.content:
        assert "Content-Type" not in resp.headers
        return {}
    assert resp.headers["Content-Type"] == CBOR_CT
    return decode(resp.content)


def cbor_error(resp, status: int, type_: str) -> dict:
    assert resp.status_code == status, (resp.status_code, resp.content)
    assert resp.headers["Content-Type"] == CBOR_CT
    assert resp.headers["x-amzn-ErrorType"].split(":")[0] == type_
    assert resp.content[:1] == b"\xbf", "errors are indefinite-length maps, as AWS writes them"
    body = decode(resp.content)
    assert body["__type"] == type_, body
    return body


def now_ms() -> int:
    return int(time.time() * 1000)


def is_millis(value) -> bool:
    """Tag 1 around an integer of milliseconds close to now."""
    return (
        isinstance(value, Tag) and value.tag == 1 and isinstance(value.value, int)
        and abs(value.value - now_ms()) < 300_000
    )


@pytest.fixture
def cbor_stream(server, kinesis):
    """A stream created with a CBOR CreateStream, deleted afterwards."""
    name = unique_name("cbor")
    assert ok(server, "CreateStream", {"StreamName": name, "ShardCount": 2}) == {}
    wait_for_status(kinesis, name, "ACTIVE")
    yield name
    kinesis.delete_stream(StreamName=name, EnforceConsumerDeletion=True)


def test_put_and_get_round_trip_bytes_and_timestamps(server, cbor_stream):
    name = cbor_stream
    before = now_ms() - 1000
    data = bytes(range(256))  # not UTF-8, not base64: must travel as a byte string
    put = ok(server, "PutRecord", {"StreamName": name, "PartitionKey": "k", "Data": data})
    assert isinstance(put["SequenceNumber"], str) and put["SequenceNumber"].isdigit()
    assert put["ShardId"].startswith("shardId-")

    records = [{"PartitionKey": f"p{i}", "Data": os.urandom(100)} for i in range(500)]
    resp = cbor_post(server, "PutRecords", {"StreamName": name, "Records": records})
    assert resp.status_code == 200
    out = decode(resp.content)
    assert out["FailedRecordCount"] == 0
    assert len(out["Records"]) == 500
    assert all(isinstance(r["SequenceNumber"], str) for r in out["Records"])

    # AT_TIMESTAMP with tag 1 around integer milliseconds, as the Java SDKs write it.
    got = []
    for shard in ok(server, "ListShards", {"StreamName": name})["Shards"]:
        it = ok(server, "GetShardIterator", {
            "StreamName": name, "ShardId": shard["ShardId"],
            "ShardIteratorType": "AT_TIMESTAMP", "Timestamp": Tag(1, before),
        })["ShardIterator"]
        raw = cbor_post(server, "GetRecords", {"ShardIterator": it, "Limit": 10000})
        assert raw.status_code == 200
        body = decode(raw.content)
        assert isinstance(body["NextShardIterator"], str)
        for r in body["Records"]:
            assert isinstance(r["Data"], bytes), "Data is a byte string, never base64 text"
            assert is_millis(r["ApproximateArrivalTimestamp"]), r["ApproximateArrivalTimestamp"]
            assert r["ApproximateArrivalTimestamp"].value >= before
            # Byte level: c1 (tag 1) + 1b (uint64) + the milliseconds, never a float.
            ms = r["ApproximateArrivalTimestamp"].value
            assert b"\x78\x1bApproximateArrivalTimestamp\xc1\x1b" + ms.to_bytes(8, "big") in raw.content
        got.extend(r["Data"] for r in body["Records"])
    assert sorted(got) == sorted([data] + [r["Data"] for r in records])

    # A timestamp after everything: nothing; an untagged number of milliseconds means the same
    # (read as seconds it would lie in the future, which AWS refuses).
    shard = ok(server, "ListShards", {"StreamName": name})["Shards"][0]["ShardId"]
    time.sleep(0.1)
    after = now_ms() - 20
    for ts in (Tag(1, after), after):
        it = ok(server, "GetShardIterator", {
            "StreamName": name, "ShardId": shard, "ShardIteratorType": "AT_TIMESTAMP", "Timestamp": ts,
        })["ShardIterator"]
        assert ok(server, "GetRecords", {"ShardIterator": it})["Records"] == []
    # Untagged milliseconds in the past find the records.
    it = ok(server, "GetShardIterator", {
        "StreamName": name, "ShardId": shard, "ShardIteratorType": "AT_TIMESTAMP", "Timestamp": before,
    })["ShardIterator"]
    assert ok(server, "GetRecords", {"ShardIterator": it})["Records"]


def test_records_data_is_encoded_byte_exactly(server, cbor_stream):
    name = cbor_stream
    data = b"\x00\xffhello"
    ok(server, "PutRecord", {"StreamName": name, "PartitionKey": "k", "Data": data, "ExplicitHashKey": "0"})
    shard = ok(server, "ListShards", {"StreamName": name})["Shards"][0]["ShardId"]
    it = ok(server, "GetShardIterator", {"StreamName": name, "ShardId": shard, "ShardIteratorType": "TRIM_HORIZON"})
    raw = cbor_post(server, "GetRecords", {"ShardIterator": it["ShardIterator"]}).content
    # "Data" then a byte string of 7 bytes: 64 'Data' 47 <bytes>.
    assert b"\x64Data\x47" + data in raw
    ts = decode(raw)["Records"][0]["ApproximateArrivalTimestamp"].value
    assert b"\xc1\x1b" + ts.to_bytes(8, "big") in raw


def test_describe_and_list_timestamps_are_tag_1_milliseconds(server, cbor_stream):
    name = cbor_stream
    raw = cbor_post(server, "DescribeStream", {"StreamName": name})
    assert b"\xc1\xfb" not in raw.content
    desc = decode(raw.content)["StreamDescription"]
    assert is_millis(desc["StreamCreationTimestamp"])
    assert len(desc["Shards"]) == 2
    assert all(isinstance(s["HashKeyRange"]["EndingHashKey"], str) for s in desc["Shards"])
    summary = ok(server, "DescribeStreamSummary", {"StreamName": name})["StreamDescriptionSummary"]
    assert summary["StreamCreationTimestamp"] == desc["StreamCreationTimestamp"]
    assert summary["OpenShardCount"] == 2

    shards = ok(server, "ListShards", {"StreamName": name})
    assert [s["ShardId"] for s in shards["Shards"]] == [s["ShardId"] for s in desc["Shards"]]

    summaries = ok(server, "ListStreams", {"Limit": 10000})["StreamSummaries"]
    mine = [s for s in summaries if s["StreamName"] == name]
    assert len(mine) == 1
    assert mine[0]["StreamCreationTimestamp"] == desc["StreamCreationTimestamp"]


def test_missing_stream_is_a_cbor_resource_not_found(server):
    name = unique_name("missing")
    resp = cbor_post(server, "DescribeStreamSummary", {"StreamName": name})
    body = cbor_error(resp, 400, "ResourceNotFoundException")
    as_json = raw_post(server, target("DescribeStreamSummary"), {"StreamName": name}).json()
    assert body == as_json


def test_validation_errors_match_json(server):
    request = {"StreamName": "", "PartitionKey": "", "Data": b""}
    body = cbor_error(cbor_post(server, "PutRecord", request), 400, "ValidationException")
    as_json = raw_post(server, target("PutRecord"), {"StreamName": "", "PartitionKey": "", "Data": ""}).json()
    assert body == as_json
    assert body["message"].startswith("3 validation errors detected: ")


def test_type_mismatches_match_json(server):
    body = cbor_error(
        cbor_post(server, "DescribeStream", {"StreamName": "s", "Limit": "5"}), 400, "SerializationException"
    )
    assert body["Message"] == "class java.lang.String can not be converted to an Integer"


@pytest.mark.parametrize("payload", [
    b"\xbf\x6aStreamName",                # truncated
    b"\xbf\x01\x02\xff",                  # a key that is not a text string
    b"\xa1\x61a\x01\x00",                 # trailing bytes
    b"\xff",                              # a break outside an indefinite item
    b"\xbf\x61a\x1c\xff",                 # reserved additional information
    b"\xa1\x61a\x62\xc3\x28",             # invalid UTF-8
    b"\x81" * 100 + b"\x00",              # nested too deep
])
def test_malformed_cbor_is_a_serialization_exception(server, payload):
    body = cbor_error(cbor_post(server, "ListStreams", payload, raw=True), 400, "SerializationException")
    assert body["Message"].startswith("Malformed CBOR request body: ")


def test_a_top_level_non_map_is_refused_like_json(server):
    body = cbor_error(cbor_post(server, "ListStreams", cbor2.dumps([1]), raw=True), 400, "SerializationException")
    as_json = raw_post(server, target("ListStreams"), "[1]").json()
    assert body == as_json


def _normalise_json(value, key=None):
    """A JSON response in CBOR's terms: timestamps as milliseconds, blobs as bytes."""
    if isinstance(value, dict):
        return {k: _normalise_json(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalise_json(v, key) for v in value]
    if key is not None and key.endswith("Timestamp"):
        return round(value * 1000)
    if key == "Data":
        return base64.b64decode(value)
    return value


def _normalise_cbor(value):
    if isinstance(value, dict):
        return {k: _normalise_cbor(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalise_cbor(v) for v in value]
    if isinstance(value, Tag):
        assert value.tag == 1 and isinstance(value.value, int)
        return value.value
    return value


def test_json_and_cbor_answer_alike(server, cbor_stream):
    name = cbor_stream
    payloads = [os.urandom(n) for n in (1, 2, 3, 50, 1000)]
    for i, data in enumerate(payloads):
        ok(server, "PutRecord", {"StreamName": name, "PartitionKey": f"k{i}", "Data": data})
    shard = ok(server, "ListShards", {"StreamName": name})["Shards"][0]["ShardId"]
    get_it = {"StreamName": name, "ShardId": shard, "ShardIteratorType": "TRIM_HORIZON"}
    for op, request in [
        ("DescribeStreamSummary", {"StreamName": name}),
        ("DescribeStream", {"StreamName": name}),
        ("ListShards", {"StreamName": name}),
        ("DescribeLimits", {}),
        ("ListTagsForStream", {"StreamName": name}),
    ]:
        via_cbor = _normalise_cbor(ok(server, op, request))
        via_json = _normalise_json(raw_post(server, target(op), request).json())
        assert via_cbor == via_json, op
    # Iterators differ per call; the records they read must not.
    via_cbor = ok(server, "GetRecords", {"ShardIterator": ok(server, "GetShardIterator", get_it)["ShardIterator"]})
    it = raw_post(server, target("GetShardIterator"), get_it).json()["ShardIterator"]
    via_json = raw_post(server, target("GetRecords"), {"ShardIterator": it}).json()
    assert _normalise_cbor(via_cbor["Records"]) == _normalise_json(via_json["Records"], "Records")
    assert via_cbor["Records"], "the shard holds records"
    assert json.dumps(sorted(via_cbor.keys())) == json.dumps(sorted(via_json.keys()))


def test_subscribe_to_shard_events_are_cbor_for_a_cbor_request(server, kinesis, cbor_stream):
    """The Java SDKs (and so the KCL) subscribe in CBOR: the event stream's payloads are CBOR
    too, each message checked by botocore's own event-stream decoder."""
    from botocore.eventstream import EventStreamBuffer

    arn = kinesis.describe_stream_summary(StreamName=cbor_stream)["StreamDescriptionSummary"]["StreamARN"]
    consumer = kinesis.register_stream_consumer(StreamARN=arn, ConsumerName="java")["Consumer"]["ConsumerARN"]
    deadline = time.monotonic() + 10
    while kinesis.describe_stream_consumer(ConsumerARN=consumer)["ConsumerDescription"]["ConsumerStatus"] != "ACTIVE":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    put = ok(server, "PutRecord", {"StreamName": cbor_stream, "Data": b"\x00\xffraw", "PartitionKey": "a",
                                   "ExplicitHashKey": "0"})
    body = indefinite({"ConsumerARN": consumer, "ShardId": "shardId-000000000000",
                       "StartingPosition": {"Type": "TRIM_HORIZON"}})
    headers = signed_headers(server, target("SubscribeToShard"), body, {"Content-Type": CBOR_CT})
    with requests.post(server.endpoint + "/", data=body, headers=headers, stream=True, timeout=30) as resp:
        assert resp.status_code == 200
        assert resp.headers["Content-Type"] == "application/vnd.amazon.eventstream"
        messages = EventStreamBuffer()
        got = []
        for chunk in resp.iter_content(chunk_size=None):
            messages.add_data(chunk)
            got += list(messages)
            if len(got) >= 2:
                break
    initial, event = got[:2]
    assert initial.headers[":event-type"] == "initial-response"
    assert initial.headers[":content-type"] == CBOR_CT
    assert decode(initial.payload) == {}
    assert event.headers[":message-type"] == "event"
    assert event.headers[":event-type"] == "SubscribeToShardEvent"
    assert event.headers[":content-type"] == CBOR_CT
    payload = decode(event.payload)
    [record] = payload["Records"]
    assert record["Data"] == b"\x00\xffraw" and record["SequenceNumber"] == put["SequenceNumber"]
    assert is_millis(record["ApproximateArrivalTimestamp"])
    assert payload["ContinuationSequenceNumber"] == put["SequenceNumber"]
    assert payload["MillisBehindLatest"] == 0
