"""Streams declared at start (`[[stream]]` tables, `--streams`, `KINESD_STREAMS`): ACTIVE by
the very first request after the listening line, idempotent across restarts, in --account-id."""

from __future__ import annotations

import subprocess

import pytest
import requests

from kinesd_harness import KinesdServer, kinesd_binary, wait_until_gone

DECLARED = """
[[stream]]
name = "orders"
shards = 3
retention-hours = 48
max-record-size-kib = 2048
tags = { team = "payments", tier = "gold" }
consumers = ["billing", "audit"]

[[stream]]
name = "clicks"
mode = "on-demand"
"""


def summary(kinesis, name: str) -> dict:
    return kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]


def consumers(kinesis, arn: str) -> dict:
    return {c["ConsumerName"]: c for c in kinesis.list_stream_consumers(StreamARN=arn)["Consumers"]}


def test_declared_streams_are_active_at_the_first_request(tmp_path, monkeypatch):
    config = tmp_path / "kinesd.toml"
    config.write_text(DECLARED)
    monkeypatch.setenv("KINESD_STREAMS", "events:on-demand, logs:2")
    # A second for each creation: a server that did not wait would answer CREATING.
    srv = KinesdServer(create_ms=1000, update_ms=1000, account_id="111122223333",
                       extra_args=["--config", str(config)])
    try:
        kinesis = srv.client()
        first = kinesis.list_streams()  # the very first request
        statuses = {s["StreamName"]: s["StreamStatus"] for s in first["StreamSummaries"]}
        assert statuses == {n: "ACTIVE" for n in ["orders", "clicks", "events", "logs"]}
        orders = summary(kinesis, "orders")
        assert orders["OpenShardCount"] == 3 and orders["StreamModeDetails"]["StreamMode"] == "PROVISIONED"
        assert orders["RetentionPeriodHours"] == 48 and orders["MaxRecordSizeInKiB"] == 2048
        assert orders["StreamARN"] == "arn:aws:kinesis:us-east-1:111122223333:stream/orders"
        tags = {t["Key"]: t["Value"] for t in kinesis.list_tags_for_stream(StreamName="orders")["Tags"]}
        assert tags == {"team": "payments", "tier": "gold"}
        assert {n: c["ConsumerStatus"] for n, c in consumers(kinesis, orders["StreamARN"]).items()} == {
            "billing": "ACTIVE", "audit": "ACTIVE"}
        assert summary(kinesis, "clicks")["StreamModeDetails"]["StreamMode"] == "ON_DEMAND"
        assert summary(kinesis, "events")["StreamModeDetails"]["StreamMode"] == "ON_DEMAND"
        assert summary(kinesis, "logs")["OpenShardCount"] == 2
        assert summary(kinesis, "logs")["RetentionPeriodHours"] == 24
        kinesis.put_record(StreamName="orders", Data=b"x" * (1024 * 1024 + 1), PartitionKey="big")
    finally:
        srv.stop()


def test_ready_names_the_declared_streams_and_a_client_deleting_one_does_not_unready_the_server():
    srv = KinesdServer(create_ms=300, delete_ms=100, account_id="111122223333",
                       extra_args=["--streams", "orders:2,events:on-demand"])
    try:
        r = requests.get(srv.endpoint + "/ready", timeout=10)
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "ready"
        assert r.json()["declared"] == {"orders": "ACTIVE", "events": "ACTIVE"}
        kinesis = srv.client()
        kinesis.delete_stream(StreamName="orders")
        wait_until_gone(kinesis, "orders")
        # Ready means the server can serve; what a client does to a declared stream is its own.
        r = requests.get(srv.endpoint + "/ready", timeout=10)
        assert r.status_code == 200, r.text
        assert r.json()["declared"] == {"orders": "missing", "events": "ACTIVE"}
    finally:
        srv.stop()


def test_a_restart_with_the_same_declaration_changes_nothing(tmp_path):
    config = tmp_path / "kinesd.toml"
    config.write_text(DECLARED)
    data = tmp_path / "data"
    args = ["--config", str(config), "--streams", "events:2"]

    def snapshot(kinesis) -> dict:
        out = {}
        for name in ["orders", "clicks", "events"]:
            s = summary(kinesis, name)
            shards = kinesis.list_shards(StreamName=name)["Shards"]
            tags = kinesis.list_tags_for_stream(StreamName=name)["Tags"]
            out[name] = (s, shards, tags)
        out["consumers"] = consumers(kinesis, out["orders"][0]["StreamARN"])
        return out

    srv = KinesdServer(create_ms=300, update_ms=300, data_dir=str(data), extra_args=args)
    try:
        kinesis = srv.client()
        before = snapshot(kinesis)
        seq = kinesis.put_record(StreamName="orders", Data=b"kept", PartitionKey="k")
    finally:
        srv.stop()
    srv = KinesdServer(create_ms=300, update_ms=300, data_dir=str(data), extra_args=args)
    try:
        kinesis = srv.client()
        assert all(s["StreamStatus"] == "ACTIVE" for s in kinesis.list_streams()["StreamSummaries"])
        after = snapshot(kinesis)
        assert after == before, "same creation times, shards, settings, tags and consumers"
        it = kinesis.get_shard_iterator(StreamName="orders", ShardId=seq["ShardId"],
                                        ShardIteratorType="AT_SEQUENCE_NUMBER",
                                        StartingSequenceNumber=seq["SequenceNumber"])["ShardIterator"]
        assert kinesis.get_records(ShardIterator=it)["Records"][0]["Data"] == b"kept"
        assert "created=[]" in srv.stderr_tail()
    finally:
        srv.stop()
    # A changed declaration: the setting is applied, the shard count is not (a warning says so).
    config.write_text(DECLARED.replace("retention-hours = 48", "retention-hours = 72").replace("shards = 3", "shards = 5"))
    srv = KinesdServer(create_ms=300, update_ms=300, data_dir=str(data), extra_args=args)
    try:
        kinesis = srv.client()
        orders = summary(kinesis, "orders")
        assert orders["StreamStatus"] == "ACTIVE"
        assert orders["RetentionPeriodHours"] == 72 and orders["OpenShardCount"] == 3
        assert "declared shard count differs" in srv.stderr_tail()
    finally:
        srv.stop()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--streams", "orders:zero"], "is not name, name:<shard count> or name:on-demand"),
        (["--streams", "a:1,a:2"], "declared twice"),
        (["--streams", "orders:100000"], "LimitExceededException"),
    ],
)
def test_a_bad_declaration_stops_the_start(args, message):
    out = subprocess.run([str(kinesd_binary()), "--in-memory", "--port", "0", *args],
                         capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
    assert out.returncode != 0
    assert b"listening" not in out.stdout
    assert message.encode() in out.stderr, out.stderr


def test_bad_stream_tables_name_the_file(tmp_path):
    config = tmp_path / "kinesd.toml"
    config.write_text('[[stream]]\nname = "x"\nshards = 1\nretention = 48\n')
    out = subprocess.run([str(kinesd_binary()), "--in-memory", "--port", "0", "--config", str(config)],
                         capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
    assert out.returncode == 2
    assert str(config).encode() in out.stderr and b"unknown field `retention`" in out.stderr, out.stderr


def test_more_streams_than_may_be_creating_at_once():
    # AWS lets five streams be CREATING at once; the rest wait for them, and all are ACTIVE.
    names = [f"many-{i}" for i in range(8)]
    srv = KinesdServer(create_ms=300, extra_args=["--streams", ",".join(f"{n}:1" for n in names)])
    try:
        summaries = srv.client().list_streams()["StreamSummaries"]
        assert {s["StreamName"]: s["StreamStatus"] for s in summaries} == {n: "ACTIVE" for n in names}
    finally:
        srv.stop()
