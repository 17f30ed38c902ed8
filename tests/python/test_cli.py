"""The AWS CLI (`aws kinesis ... --endpoint-url`) against kinesd, parsing `--output json`."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from functools import lru_cache

import pytest

from kinesd_harness import unique_name

# The AWS CLI pinned in requirements.txt (v1, a Python package), run with this interpreter so
# the suite never depends on what `aws` happens to be on the PATH.
AWS = [sys.executable, "-m", "awscli"]


@lru_cache(maxsize=1)
def _cli_major() -> int:
    out = subprocess.run([*AWS, "--version"], capture_output=True, text=True, timeout=60)
    text = (out.stdout + out.stderr).strip()
    return 2 if text.startswith("aws-cli/2") else 1


def _env(server) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": server.region,
        "AWS_REGION": server.region,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_PAGER": "",
        "AWS_RETRY_MODE": "standard",
        "AWS_MAX_ATTEMPTS": "1",
    })
    return env


def aws(server, *args: str, check: bool = True):
    cmd = [*AWS, "kinesis", *args, "--endpoint-url", server.endpoint, "--output", "json"]
    if _cli_major() == 2:
        # v1 has no pager and rejects these flags; v2 needs them for raw --data and no pager.
        cmd += ["--no-cli-pager", "--cli-binary-format", "raw-in-base64-out"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=_env(server))
    if check:
        assert proc.returncode == 0, (cmd, proc.returncode, proc.stderr)
        return json.loads(proc.stdout) if proc.stdout.strip() else None
    return proc


def test_cli_stream_round_trip(server):
    name = unique_name("cli")
    assert aws(server, "create-stream", "--stream-name", name, "--shard-count", "2") is None

    # describe-stream-summary until ACTIVE (bounded)
    import time
    deadline = time.monotonic() + 20
    while True:
        s = aws(server, "describe-stream-summary", "--stream-name", name)["StreamDescriptionSummary"]
        if s["StreamStatus"] == "ACTIVE" or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert s["StreamStatus"] == "ACTIVE"
    assert s["StreamName"] == name
    assert s["StreamARN"] == server.arn(name)
    assert s["OpenShardCount"] == 2
    assert s["RetentionPeriodHours"] == 24
    assert s["StreamModeDetails"] == {"StreamMode": "PROVISIONED"}
    assert "StreamId" not in s

    listed = aws(server, "list-streams")
    assert name in listed["StreamNames"]

    put = aws(server, "put-record", "--stream-name", name, "--partition-key", "pk-1",
              "--data", "hello from the cli")
    assert put["ShardId"] == "shardId-000000000001"  # MD5("pk-1") lies in the upper half
    assert put["SequenceNumber"].isdigit() and len(put["SequenceNumber"]) == 56

    it = aws(server, "get-shard-iterator", "--stream-name", name, "--shard-id", put["ShardId"],
             "--shard-iterator-type", "AT_SEQUENCE_NUMBER",
             "--starting-sequence-number", put["SequenceNumber"])["ShardIterator"]
    got = aws(server, "get-records", "--shard-iterator", it)
    assert len(got["Records"]) == 1
    rec = got["Records"][0]
    assert base64.b64decode(rec["Data"]) == b"hello from the cli"
    assert rec["PartitionKey"] == "pk-1"
    assert rec["SequenceNumber"] == put["SequenceNumber"]
    assert got["MillisBehindLatest"] == 0
    assert got["NextShardIterator"] and got["NextShardIterator"] != it

    shards = aws(server, "list-shards", "--stream-name", name)["Shards"]
    assert [s["ShardId"] for s in shards] == ["shardId-000000000000", "shardId-000000000001"]
    assert shards[1]["HashKeyRange"]["StartingHashKey"] == str(2**127)

    assert aws(server, "delete-stream", "--stream-name", name) is None
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        proc = aws(server, "describe-stream-summary", "--stream-name", name, check=False)
        if proc.returncode != 0:
            break
        time.sleep(0.1)
    assert proc.returncode != 0
    # The CLI may insert "(reached max retries: N)" before the colon.
    assert re.search(
        r"An error occurred \(ResourceNotFoundException\) when calling the DescribeStreamSummary "
        r"operation( \(reached max retries: \d+\))?: Stream " + re.escape(name)
        + r" under account 123456789012 not found\.", proc.stderr), proc.stderr
    assert name not in aws(server, "list-streams")["StreamNames"]


def test_cli_put_records_and_describe_stream(server):
    name = unique_name("cli")
    aws(server, "create-stream", "--stream-name", name, "--shard-count", "1")
    import time
    deadline = time.monotonic() + 20
    while aws(server, "describe-stream", "--stream-name", name)["StreamDescription"][
            "StreamStatus"] != "ACTIVE":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    out = aws(server, "put-records", "--stream-name", name, "--records",
              json.dumps([{"Data": "one", "PartitionKey": "a"},
                          {"Data": "two", "PartitionKey": "b"}]))
    assert out["FailedRecordCount"] == 0
    assert [r["ShardId"] for r in out["Records"]] == ["shardId-000000000000"] * 2
    d = aws(server, "describe-stream", "--stream-name", name)["StreamDescription"]
    assert d["StreamStatus"] == "ACTIVE"
    # (the CLI auto-paginates describe-stream and drops HasMoreShards from its merged output)
    assert d["Shards"][0]["HashKeyRange"] == {
        "StartingHashKey": "0", "EndingHashKey": str(2**128 - 1)}
    aws(server, "delete-stream", "--stream-name", name)


def test_cli_error_for_duplicate_stream(server):
    name = unique_name("cli")
    aws(server, "create-stream", "--stream-name", name, "--shard-count", "1")
    proc = aws(server, "create-stream", "--stream-name", name, "--shard-count", "1", check=False)
    assert proc.returncode != 0
    assert ("An error occurred (ResourceInUseException) when calling the CreateStream "
            "operation") in proc.stderr
    aws(server, "delete-stream", "--stream-name", name)


def test_the_readme_quick_start_data_with_the_cli_v1(server, kinesis):
    """README's quick start: `put-record --data aGVsbG8=`. The CLI v1 pinned here (like v2 with
    `--cli-binary-format raw-in-base64-out`, which `aws()` adds for v2) sends the text as given,
    so the record is the base64 text itself and get-records shows it encoded twice
    (`YUdWc2JHOD0=`), as the README warns."""
    name = unique_name("readme")
    kinesis.create_stream(StreamName=name, ShardCount=1)
    kinesis.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 100})
    aws(server, "put-record", "--stream-name", name, "--partition-key", "customer-1", "--data", "aGVsbG8=")

    def trim_horizon():
        return kinesis.get_shard_iterator(StreamName=name, ShardId="shardId-000000000000",
                                          ShardIteratorType="TRIM_HORIZON")["ShardIterator"]

    (record,) = kinesis.get_records(ShardIterator=trim_horizon())["Records"]
    assert record["Data"] == b"aGVsbG8="
    got = aws(server, "get-records", "--shard-iterator", trim_horizon())
    assert got["Records"][0]["Data"] == "YUdWc2JHOD0="
