"""`kinesd tail` and `kinesd put` as a user runs them: subprocesses of the binary against a
running kinesd, checked with boto3 and with the `aws-kinesis-agg` package's aggregation."""

from __future__ import annotations

import base64
import json
import os
import pty
import subprocess
import time
from datetime import datetime, timezone

import pytest

from kinesd_harness import KinesdServer, create_active, kinesd_binary, read_all, unique_name, wait_for_status


def _env(extra: dict | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "KINESD_"))}
    env.update(extra or {})
    return env


def kinesd(server, *args, stdin: bytes | None = None, timeout: float = 30, env: dict | None = None):
    """Runs `kinesd <args> --endpoint <server>`; the completed process (bytes)."""
    return subprocess.run(
        [str(kinesd_binary()), *args, "--endpoint", server.endpoint],
        input=stdin, capture_output=True, timeout=timeout, env=_env(env),
    )


def tail(server, stream: str, *args, timeout: float = 30) -> list[str]:
    out = kinesd(server, "tail", stream, *args, timeout=timeout)
    assert out.returncode == 0, out.stderr.decode()
    return out.stdout.decode().splitlines()


def put_records(kinesis, stream: str, datas: list[bytes], key: str = "k") -> list[dict]:
    resp = kinesis.put_records(StreamName=stream, Records=[{"Data": d, "PartitionKey": key} for d in datas])
    assert resp["FailedRecordCount"] == 0
    return resp["Records"]


def test_tail_prints_the_records_text_from_trim_horizon_and_exits_after_max_records(kinesis, server):
    name = create_active(kinesis, shards=1)
    put_records(kinesis, name, [b"first", b"second", b"third"])
    assert tail(server, name, "--from", "trim-horizon", "--max-records", "1") == ["first"]
    assert tail(server, name, "--from", "trim-horizon", "--max-records", "3") == ["first", "second", "third"]


def test_tail_formats_json_and_hex(kinesis, server):
    name = create_active(kinesis, shards=1)
    seq = put_records(kinesis, name, [b"\x00\xffbin", b'{"a": 1}'], key="pk-1")
    lines = tail(server, name, "--from", "trim-horizon", "--max-records", "2", "--format", "json")
    first, second = (json.loads(line) for line in lines)
    assert first["ShardId"] == seq[0]["ShardId"] and first["SequenceNumber"] == seq[0]["SequenceNumber"]
    assert first["PartitionKey"] == "pk-1"
    assert base64.b64decode(first["Data"]) == b"\x00\xffbin" and "Text" not in first
    assert second["Text"] == '{"a": 1}'
    arrival = datetime.fromisoformat(first["ApproximateArrivalTimestamp"].replace("Z", "+00:00"))
    assert abs((datetime.now(timezone.utc) - arrival).total_seconds()) < 60
    assert tail(server, name, "--from", "trim-horizon", "--max-records", "2", "--format", "hex") == [
        "00ff62696e", b'{"a": 1}'.hex()
    ]


def test_tail_from_a_time_and_from_a_sequence_number(kinesis, server):
    name = create_active(kinesis, shards=1)
    put_records(kinesis, name, [b"old"])
    time.sleep(0.05)
    between = datetime.now(timezone.utc)
    time.sleep(0.05)
    recs = put_records(kinesis, name, [b"new-1", b"new-2", b"new-3"])
    when = between.strftime("%Y-%m-%dT%H:%M:%S.") + f"{between.microsecond // 1000:03d}Z"
    assert tail(server, name, "--from", when, "--max-records", "1") == ["new-1"]
    assert tail(server, name, "--from", recs[1]["SequenceNumber"], "--max-records", "2") == ["new-2", "new-3"]
    bad = kinesd(server, "tail", name, "--from", "yesterday-ish")
    assert bad.returncode != 0 and b"--from" in bad.stderr


def test_tail_from_latest_sees_only_what_is_written_after_it_starts(kinesis, server):
    name = create_active(kinesis, shards=2)
    put_records(kinesis, name, [b"before"])
    proc = subprocess.Popen(
        [str(kinesd_binary()), "tail", name, "--endpoint", server.endpoint, "--max-records", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(),
    )
    try:
        # Written until tail has its LATEST iterators and prints one (however slow it starts).
        deadline = time.monotonic() + 20
        while proc.poll() is None and time.monotonic() < deadline:
            put_records(kinesis, name, [b"after"], key="other")
            time.sleep(0.3)
        out, err = proc.communicate(timeout=5)
    finally:
        proc.kill()
    assert proc.returncode == 0, err.decode()
    assert out.decode().splitlines() == ["after"]


def test_a_running_tail_follows_a_split_in_order(kinesis, server):
    name = create_active(kinesis, shards=1)
    start = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    proc = subprocess.Popen(
        [str(kinesd_binary()), "tail", name, "--endpoint", server.endpoint, "--from", start, "--max-records", "40"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(),
    )
    try:
        time.sleep(0.5)
        put_records(kinesis, name, [f"parent-{i}".encode() for i in range(20)], key="a")
        shard0 = kinesis.list_shards(StreamName=name)["Shards"][0]
        kinesis.split_shard(StreamName=name, ShardToSplit=shard0["ShardId"], NewStartingHashKey=str(2**127))
        wait_for_status(kinesis, name, "ACTIVE")
        put_records(kinesis, name, [f"child-{i}".encode() for i in range(20)], key="a")
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, err.decode()
    assert out.decode().splitlines() == [f"parent-{i}" for i in range(20)] + [f"child-{i}" for i in range(20)]


def test_tail_follows_children_after_their_parents_across_a_split_and_a_merge(kinesis, server):
    name = create_active(kinesis, shards=1)
    put_records(kinesis, name, [f"gen0-{i}".encode() for i in range(20)], key="a")
    shard0 = kinesis.list_shards(StreamName=name)["Shards"][0]
    middle = (int(shard0["HashKeyRange"]["StartingHashKey"]) + int(shard0["HashKeyRange"]["EndingHashKey"])) // 2
    kinesis.split_shard(StreamName=name, ShardToSplit=shard0["ShardId"], NewStartingHashKey=str(middle))
    wait_for_status(kinesis, name, "ACTIVE")
    put_records(kinesis, name, [f"gen1-{i}".encode() for i in range(20)], key="a")
    put_records(kinesis, name, [f"gen1-b{i}".encode() for i in range(20)], key="b-key-elsewhere")
    children = sorted(
        (s for s in kinesis.list_shards(StreamName=name)["Shards"] if "EndingSequenceNumber" not in s["SequenceNumberRange"]),
        key=lambda s: int(s["HashKeyRange"]["StartingHashKey"]),
    )
    kinesis.merge_shards(
        StreamName=name, ShardToMerge=children[0]["ShardId"], AdjacentShardToMerge=children[1]["ShardId"]
    )
    wait_for_status(kinesis, name, "ACTIVE")
    put_records(kinesis, name, [f"gen2-{i}".encode() for i in range(20)], key="a")
    lines = tail(server, name, "--from", "trim-horizon", "--max-records", "80")
    assert sorted(lines) == sorted(
        [f"gen0-{i}" for i in range(20)] + [f"gen1-{i}" for i in range(20)]
        + [f"gen1-b{i}" for i in range(20)] + [f"gen2-{i}" for i in range(20)]
    )
    generation = [int(line[3]) for line in lines]
    assert generation == sorted(generation), "every parent's records come before its children's"
    a_records = [line for line in lines if "-b" not in line]
    assert a_records == [f"gen{g}-{i}" for g in range(3) for i in range(20)], "a key's order is kept"
    # --shard follows one shard and then its child.
    in_child = [r["Data"].decode() for r in read_all(kinesis, name, children[0]["ShardId"])]
    assert in_child, "the split's lower child holds records"
    only = tail(server, name, "--from", "trim-horizon", "--shard", children[0]["ShardId"],
                "--max-records", str(len(in_child) + 1))
    assert only == in_child + ["gen2-0"]


def test_tail_deaggregates_what_aws_kinesis_agg_aggregated(kinesis, server):
    from aws_kinesis_agg import aggregator  # tests/python/requirements.txt

    name = create_active(kinesis, shards=1)
    agg = aggregator.RecordAggregator()
    users = [(f"user-{i % 3}", f"user record {i}".encode()) for i in range(25)]
    for key, data in users:
        agg.add_user_record(key, data)
    agg.add_user_record("ehk-user", b"with an explicit hash key", explicit_hash_key="12345")
    partition_key, _, data = agg.clear_and_get().get_contents()
    kinesis.put_record(StreamName=name, Data=data, PartitionKey=partition_key)
    put_records(kinesis, name, [b"plain after"])
    lines = tail(server, name, "--from", "trim-horizon", "--max-records", "27")
    assert lines == [d.decode() for _, d in users] + ["with an explicit hash key", "plain after"]
    objects = [
        json.loads(line)
        for line in tail(server, name, "--from", "trim-horizon", "--max-records", "27", "--format", "json")
    ]
    assert [o["PartitionKey"] for o in objects[:25]] == [k for k, _ in users]
    assert [o["SubSequenceNumber"] for o in objects[:26]] == list(range(26))
    assert objects[25]["ExplicitHashKey"] == "12345"
    assert len({o["SequenceNumber"] for o in objects[:26]}) == 1, "one Kinesis record"
    assert "SubSequenceNumber" not in objects[26]
    raw = tail(server, name, "--from", "trim-horizon", "--max-records", "1", "--format", "hex", "--no-deaggregate")
    assert bytes.fromhex(raw[0]) == data


def test_put_writes_lines_from_stdin_and_files_in_order(kinesis, server, tmp_path):
    name = create_active(kinesis, shards=3)
    lines = [f"line {i}" for i in range(1200)]  # more than one PutRecords batch
    out = kinesd(server, "put", name, "--partition-key", "one-key", stdin="\n".join(lines).encode() + b"\n\n")
    assert out.returncode == 0, out.stderr.decode()
    assert out.stderr == b"", "no progress line when stderr is not a terminal"
    assert tail(server, name, "--from", "trim-horizon", "--max-records", "1200") == lines
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text('{"user": "ann", "n": 1}\r\n{"user": "bob", "n": 2}\n')
    b.write_text('{"user": "ann", "n": 3}')
    name2 = create_active(kinesis, shards=2)
    out = kinesd(server, "put", name2, str(a), str(b), "--key-field", "user")
    assert out.returncode == 0, out.stderr.decode()
    got = [json.loads(line) for line in tail(server, name2, "--from", "trim-horizon", "--max-records", "3", "--format", "json")]
    assert sorted(o["Text"] for o in got) == sorted(['{"user": "ann", "n": 1}', '{"user": "bob", "n": 2}', '{"user": "ann", "n": 3}'])
    assert {o["PartitionKey"] for o in got} == {"ann", "bob"}
    ann = [json.loads(o["Text"])["n"] for o in got if o["PartitionKey"] == "ann"]
    assert ann == [1, 3]


def test_put_refuses_a_line_longer_than_any_record(kinesis, server, tmp_path):
    name = create_active(kinesis, shards=1)
    out = kinesd(server, "put", name, stdin=b"small\n" + b"x" * (10 * 1024 * 1024 + 10) + b"\n")
    assert out.returncode == 1
    assert b"line 2 of stdin is longer than a record may be (10 MiB)" in out.stderr, out.stderr
    missing = kinesd(server, "put", name, str(tmp_path / "absent.txt"))
    assert missing.returncode == 1 and b"cannot read" in missing.stderr and b"absent.txt" in missing.stderr


def test_put_random_keys_spread_over_shards(kinesis, server):
    name = create_active(kinesis, shards=4)
    out = kinesd(server, "put", name, stdin=b"".join(f"r{i}\n".encode() for i in range(200)))
    assert out.returncode == 0, out.stderr.decode()
    shards = [json.loads(line)["ShardId"] for line in
              tail(server, name, "--from", "trim-horizon", "--max-records", "200", "--format", "json")]
    assert len(shards) == 200 and len(set(shards)) == 4


def test_put_sends_failed_records_again_until_all_are_in(tmp_path):
    faults = tmp_path / "faults.toml"
    faults.write_text(
        '[[fault]]\noperations = ["PutRecords"]\nstreams = "flaky-*"\nerror = "InternalFailure"\n'
        "record_probability = 0.3\n"
    )
    srv = KinesdServer(extra_args=["--faults", str(faults), "--fault-seed", "7"])
    try:
        kinesis = srv.client()
        name = create_active(kinesis, name=unique_name("flaky-"), shards=2)
        lines = [f"rec-{i}" for i in range(300)]
        out = kinesd(srv, "put", name, "--partition-key", "p", stdin="\n".join(lines).encode())
        assert out.returncode == 0, out.stderr.decode()
        got = tail(srv, name, "--from", "trim-horizon", "--max-records", "300")
        assert sorted(got) == sorted(lines), "every line exactly once"
    finally:
        srv.stop()


def test_put_gives_up_with_an_error_when_records_keep_failing(tmp_path):
    faults = tmp_path / "faults.toml"
    faults.write_text(
        '[[fault]]\noperations = ["PutRecords"]\nstreams = "down-*"\nerror = "InternalFailure"\n'
        "record_probability = 1.0\n"
    )
    srv = KinesdServer(extra_args=["--faults", str(faults)])
    try:
        name = create_active(srv.client(), name=unique_name("down-"), shards=1)
        out = kinesd(srv, "put", name, stdin=b"x\n", timeout=60)
        assert out.returncode == 1
        assert b"still failed after 10 attempts" in out.stderr and b"InternalFailure" in out.stderr
    finally:
        srv.stop()


def test_put_shows_a_progress_line_on_a_terminal(kinesis, server, tmp_path):
    name = create_active(kinesis, shards=1)
    data = tmp_path / "lines.txt"
    data.write_text("".join(f"p{i}\n" for i in range(50)))
    leader, follower = pty.openpty()
    try:
        proc = subprocess.Popen(
            [str(kinesd_binary()), "put", name, str(data), "--endpoint", server.endpoint],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=follower, env=_env(),
        )
        os.close(follower)
        assert proc.wait(timeout=30) == 0
        shown = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(leader)
    assert b"50 records put" in shown, shown


def test_errors_are_reported_with_aws_type_and_exit_1(kinesis, server):
    out = kinesd(server, "tail", "no-such-stream-here", "--from", "trim-horizon")
    assert out.returncode == 1
    assert b"ResourceNotFoundException" in out.stderr
    out = kinesd(server, "put", "no-such-stream-here", stdin=b"x\n")
    assert out.returncode == 1 and b"ResourceNotFoundException" in out.stderr


def test_requests_are_signed_with_the_given_credentials(tmp_path):
    creds = tmp_path / "credentials.toml"
    creds.write_text(
        '[[credential]]\naccess_key_id = "AKIDCLI"\nsecret_access_key = "cli-secret"\naccount_id = "111122223333"\n'
    )
    creds.chmod(0o600)
    srv = KinesdServer(extra_args=["--credentials", str(creds)])
    try:
        good = {"AWS_ACCESS_KEY_ID": "AKIDCLI", "AWS_SECRET_ACCESS_KEY": "cli-secret"}
        import boto3

        kinesis = boto3.client(
            "kinesis", endpoint_url=srv.endpoint, region_name="us-east-1",
            aws_access_key_id="AKIDCLI", aws_secret_access_key="cli-secret",
        )
        name = create_active(kinesis, shards=1)
        out = kinesd(srv, "put", name, stdin=b"signed\n", env=good)
        assert out.returncode == 0, out.stderr.decode()
        out = kinesd(srv, "tail", name, "--from", "trim-horizon", "--max-records", "1", env=good)
        assert out.returncode == 0 and out.stdout == b"signed\n", out.stderr.decode()
        out = kinesd(srv, "tail", name, "--from", "trim-horizon", "--max-records", "1",
                     "--access-key-id", "AKIDCLI", "--secret-access-key", "wrong")
        assert out.returncode == 1 and b"InvalidSignatureException" in out.stderr, out.stderr
        out = kinesd(srv, "tail", name, "--from", "trim-horizon", "--max-records", "1")
        assert out.returncode == 1 and b"UnrecognizedClientException" in out.stderr, out.stderr
    finally:
        srv.stop()


def test_tail_and_put_over_tls_trust_the_bundle_given():
    srv = KinesdServer(tls=True)
    try:
        name = create_active(srv.client(), shards=1)
        run = lambda *args, **kw: subprocess.run(  # noqa: E731
            [str(kinesd_binary()), *args, "--endpoint", srv.tls_endpoint], capture_output=True, timeout=30,
            env=_env(kw.get("env")), input=kw.get("stdin"))
        out = run("put", name, stdin=b"over tls\n", env={"AWS_CA_BUNDLE": srv.tls_cert})
        assert out.returncode == 0, out.stderr.decode()
        out = run("tail", name, "--from", "trim-horizon", "--max-records", "1", "--ca-bundle", srv.tls_cert)
        assert out.returncode == 0 and out.stdout == b"over tls\n", out.stderr.decode()
        # The self-signed certificate is not among the system's authorities.
        out = run("tail", name, "--from", "trim-horizon", "--max-records", "1")
        assert out.returncode == 1 and b"TLS with" in out.stderr, out.stderr
    finally:
        srv.stop()


def test_the_default_endpoint_is_the_configured_server(kinesis, server):
    name = create_active(kinesis, shards=1)
    put_records(kinesis, name, [b"local"])
    out = subprocess.run(
        [str(kinesd_binary()), "tail", name, "--from", "trim-horizon", "--max-records", "1"],
        capture_output=True, timeout=30, env=_env({"KINESD_PORT": str(server.port)}),
    )
    assert out.returncode == 0 and out.stdout == b"local\n", out.stderr.decode()
