"""--faults and /_kinesd/faults with real clients: per-record PutRecords failures (exactly the
failed records are missing, other streams untouched), latency, whole-call errors with AWS's
type, status and message, shard-specific rules, a repeatable seed, and the admin endpoint."""

from __future__ import annotations

import json
import time

import pytest
import requests
from botocore.exceptions import ClientError

from kinesd_harness import KinesdServer, create_active, error_of, read_all, shard_id, unique_name

FAULTS = """
[[fault]]
operations = ["PutRecords"]
streams = "faulty-*"
error = "InternalFailure"
record_probability = 0.5

[[fault]]
operations = ["GetRecords"]
streams = "slow-*"
latency_ms = 300

[[fault]]
operations = ["DescribeStreamSummary"]
streams = "throttled-*"
error = "LimitExceededException"

[[fault]]
operations = ["PutRecord"]
streams = "down-*"
error = "ServiceUnavailable"

[[fault]]
operations = ["GetShardIterator"]
shards = ["shardId-000000000001"]
streams = "split-*"
error = "ProvisionedThroughputExceededException"
"""


def start(tmp_path, seed: int = 7) -> KinesdServer:
    path = tmp_path / "faults.toml"
    path.write_text(FAULTS)
    return KinesdServer(extra_args=["--faults", str(path), "--fault-seed", str(seed)])


@pytest.fixture(scope="module")
def faulty(tmp_path_factory):
    srv = start(tmp_path_factory.mktemp("faults"))
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def client(faulty):
    return faulty.client()


def put_many(client, name: str, n: int = 200) -> dict:
    recs = [{"Data": f"d{i}".encode(), "PartitionKey": f"k{i}"} for i in range(n)]
    return client.put_records(StreamName=name, Records=recs)


def stored(client, name: str, shards: int) -> set[bytes]:
    return {r["Data"] for s in range(shards) for r in read_all(client, name, shard_id(s))}


def test_half_the_records_fail_and_exactly_those_are_missing(client):
    name = create_active(client, unique_name("faulty"), shards=2)
    resp = put_many(client, name)
    failed = [i for i, r in enumerate(resp["Records"]) if "ErrorCode" in r]
    assert resp["FailedRecordCount"] == len(failed)
    assert 60 < len(failed) < 140, len(failed)
    for i in failed:
        assert resp["Records"][i] == {"ErrorCode": "InternalFailure", "ErrorMessage": "Internal service failure."}
    written = {f"d{i}".encode() for i in range(200) if i not in failed}
    assert stored(client, name, 2) == written


def test_other_streams_are_untouched(client):
    name = create_active(client, unique_name("orders"), shards=2)
    resp = put_many(client, name)
    assert resp["FailedRecordCount"] == 0
    assert len(stored(client, name, 2)) == 200


def test_getrecords_latency(client):
    name = create_active(client, unique_name("slow"))
    it = client.get_shard_iterator(StreamName=name, ShardId=shard_id(0), ShardIteratorType="LATEST")["ShardIterator"]
    start = time.monotonic()
    client.get_records(ShardIterator=it)
    assert time.monotonic() - start >= 0.3
    fast = create_active(client, unique_name("fast"))
    it = client.get_shard_iterator(StreamName=fast, ShardId=shard_id(0), ShardIteratorType="LATEST")["ShardIterator"]
    start = time.monotonic()
    client.get_records(ShardIterator=it)
    assert time.monotonic() - start < 0.25


def test_a_call_that_always_throttles(faulty, client):
    name = unique_name("throttled")
    client.create_stream(StreamName=name, ShardCount=1)
    with pytest.raises(ClientError) as e:
        client.describe_stream_summary(StreamName=name)
    message = f"Rate exceeded for stream {name} under account {faulty.account_id}."
    assert error_of(e) == (400, "LimitExceededException", message)
    client.describe_stream(StreamName=name)  # other operations answer


def test_whole_call_error_with_aws_status(client):
    name = create_active(client, unique_name("down"))
    with pytest.raises(ClientError) as e:
        client.put_record(StreamName=name, Data=b"x", PartitionKey="k")
    status, code, _ = error_of(e)
    assert (status, code) == (503, "ServiceUnavailable")
    client.put_records(StreamName=name, Records=[{"Data": b"x", "PartitionKey": "k"}])
    assert len(read_all(client, name, shard_id(0))) == 1, "the failed PutRecord wrote nothing"


def test_rules_can_name_shards(faulty, client):
    name = create_active(client, unique_name("split"), shards=2)
    client.get_shard_iterator(StreamName=name, ShardId=shard_id(0), ShardIteratorType="LATEST")
    with pytest.raises(ClientError) as e:
        client.get_shard_iterator(StreamName=name, ShardId=shard_id(1), ShardIteratorType="LATEST")
    message = f"Rate exceeded for shard {shard_id(1)} in stream {name} under account {faulty.account_id}."
    assert error_of(e) == (400, "ProvisionedThroughputExceededException", message)


def test_the_seed_makes_failures_repeatable(tmp_path):
    outcomes = []
    for run in range(2):
        (tmp_path / str(run)).mkdir()
        srv = start(tmp_path / str(run), seed=42)
        try:
            c = srv.client()
            name = create_active(c, "faulty-seeded", shards=1)
            outcomes.append(["ErrorCode" in r for r in put_many(c, name, 100)["Records"]])
        finally:
            srv.stop()
    assert outcomes[0] == outcomes[1]


def admin(server: KinesdServer, method: str, body=None) -> requests.Response:
    data = None if body is None else (body if isinstance(body, (bytes, str)) else json.dumps(body))
    return requests.request(method, server.endpoint + "/_kinesd/faults", data=data, timeout=10)


def test_the_admin_endpoint_reads_replaces_and_clears_the_rules(tmp_path):
    srv = start(tmp_path)
    try:
        c = srv.client()
        got = admin(srv, "GET")
        assert got.status_code == 200 and got.headers["content-type"] == "application/json"
        assert got.json()["seed"] == 7
        assert got.json()["fault"][0] == {
            "operations": ["PutRecords"],
            "streams": "faulty-*",
            "error": "InternalFailure",
            "record_probability": 0.5,
        }
        c.list_streams()
        rules = {"fault": [{"operations": ["ListStreams"], "error": "ServiceUnavailable", "probability": 1.0}]}
        put = admin(srv, "PUT", rules)
        assert put.status_code == 200, put.text
        assert put.json()["fault"] == rules["fault"]
        with pytest.raises(ClientError) as e:
            c.list_streams()
        assert error_of(e)[:2] == (503, "ServiceUnavailable")
        bad = admin(srv, "PUT", {"fault": [{"error": "NoSuchError"}]})
        assert bad.status_code == 400 and "NoSuchError" in bad.json()["message"]
        assert admin(srv, "PUT", b"not json").status_code == 400
        assert admin(srv, "GET").json()["fault"] == rules["fault"], "a refused PUT changes nothing"
        cleared = admin(srv, "DELETE")
        assert cleared.status_code == 200 and cleared.json()["fault"] == []
        c.list_streams()
        assert admin(srv, "POST").status_code == 405
    finally:
        srv.stop()
