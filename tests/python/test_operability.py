"""Running kinesd (issue 15): /health, /ready and /metrics beside the Kinesis API, logs (text,
JSON, one debug line per request, slow-request warnings), clean shutdown on SIGTERM and SIGINT
(in-flight requests answered, fan-out subscriptions ended cleanly, --shutdown-timeout-ms), and
the rough edges of a first start (a signal right after the listening line, a port in use, a
data directory that is a file, temporary files left behind)."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests

from kinesd_harness import KinesdServer, active_consumer, create_active, kinesd_binary, unique_name

SHARD0 = "shardId-000000000000"


def scrape(server) -> str:
    r = requests.get(server.endpoint + "/metrics", timeout=30)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    return r.text


def sample(text: str, name: str, **labels) -> float | None:
    """The value of the series `name` whose labels include `labels` (None when absent)."""
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        series, value = line.rsplit(" ", 1)
        got = dict(re.findall(r'(\w+)="([^"]*)"', series))
        if all(got.get(k) == v for k, v in labels.items()):
            return float(value)
    return None


@pytest.fixture(scope="module")
def srv():
    s = KinesdServer(create_ms=0, delete_ms=0, update_ms=0,
                     extra_args=["--consumer-create-ms", "0", "--consumer-delete-ms", "0"])
    yield s
    s.stop()


@pytest.fixture(scope="module")
def k(srv):
    return srv.client()


# ------------------------------------------------------------------------------ health


def test_health_and_ready_are_plain_json(srv):
    for path, status in [("/health", "ok"), ("/ready", "ready")]:
        r = requests.get(srv.endpoint + path, timeout=10)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "application/json"
        assert r.json()["status"] == status
        assert "x-amzn-RequestId" in r.headers
    assert requests.head(srv.endpoint + "/health", timeout=10).status_code == 200


def test_a_kinesis_post_to_those_paths_is_still_a_kinesis_request(srv, k):
    # An SDK with an endpoint path of /health still gets Kinesis answers: POSTs are never routed
    # to the operational endpoints.
    name = create_active(k, unique_name("post"), 1)
    r = requests.post(
        srv.endpoint + "/metrics",
        data=json.dumps({"StreamName": name}),
        headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "Kinesis_20131202.DescribeStreamSummary",
                 "Authorization": "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/kinesis/aws4_request, "
                                  "SignedHeaders=host;x-amz-date, Signature=00", "X-Amz-Date": "20260101T000000Z"},
        timeout=10,
    )
    assert r.status_code == 200, r.text
    assert r.json()["StreamDescriptionSummary"]["StreamName"] == name
    # Other methods and paths keep AWS's answer to a non-POST.
    assert requests.get(srv.endpoint + "/other", timeout=10).status_code == 403


# ------------------------------------------------------------------------------ metrics


def test_metrics_count_what_clients_did(srv, k):
    name = create_active(k, unique_name("m"), 2)
    records = [{"Data": b"x" * 10, "PartitionKey": f"pk{i}"} for i in range(37)]
    assert k.put_records(StreamName=name, Records=records)["FailedRecordCount"] == 0
    k.put_record(StreamName=name, Data=b"y" * 5, PartitionKey="one")
    read = 0
    for shard in ("shardId-000000000000", "shardId-000000000001"):
        it = k.get_shard_iterator(StreamName=name, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        read += len(k.get_records(ShardIterator=it)["Records"])
    assert read == 38
    text = scrape(srv)
    labels = {"stream": name, "account": srv.account_id}
    assert sample(text, "kinesd_stream_incoming_records_total", **labels) == 38
    assert sample(text, "kinesd_stream_incoming_bytes_total", **labels) == sum(10 + len(f"pk{i}") for i in range(37)) + 5 + 3
    assert sample(text, "kinesd_stream_outgoing_records_total", api="GetRecords", **labels) == 38
    assert sample(text, "kinesd_stream_open_shards", **labels) == 2
    assert sample(text, "kinesd_requests_total", operation="PutRecords", outcome="success") >= 1
    assert sample(text, "kinesd_request_duration_seconds_count", operation="PutRecords") >= 1
    assert sample(text, "kinesd_request_duration_seconds_bucket", operation="PutRecords", le="+Inf") >= 1
    for name_ in ("kinesd_journal_written_bytes_total", "kinesd_journal_fsyncs_total", "process_resident_memory_bytes",
                  "process_open_fds", "kinesd_connections_open"):
        assert sample(text, name_) is not None, name_
    # No shard-level series without EnableEnhancedMonitoring.
    assert sample(text, "kinesd_shard_incoming_records_total", stream=name) is None


def test_errors_are_counted_by_outcome(srv, k):
    before = sample(scrape(srv), "kinesd_requests_total", operation="DescribeStream", outcome="client_error") or 0
    with pytest.raises(Exception):
        k.describe_stream(StreamName=unique_name("absent"))
    after = sample(scrape(srv), "kinesd_requests_total", operation="DescribeStream", outcome="client_error")
    assert after == before + 1


def test_throttled_and_failed_records_are_counted(tmp_path):
    limits = tmp_path / "limits.toml"
    limits.write_text("[shard]\nwrite-records-per-second = 20\n")
    s = KinesdServer(create_ms=0, extra_args=["--enforce-limits", "--limits", str(limits)])
    try:
        c = s.client()
        name = create_active(c, unique_name("thr"), 1)
        out = c.put_records(StreamName=name, Records=[{"Data": b"d", "PartitionKey": f"k{i}"} for i in range(25)])
        assert out["FailedRecordCount"] == 5
        rules = {"fault": [{"operations": ["PutRecords"], "error": "InternalFailure", "record_probability": 1.0}]}
        assert requests.put(s.endpoint + "/_kinesd/faults", data=json.dumps(rules), timeout=10).status_code == 200
        time.sleep(1.1)  # the shard's second of capacity back
        assert c.put_records(StreamName=name, Records=[{"Data": b"d", "PartitionKey": "p"}] * 3)["FailedRecordCount"] == 3
        text = scrape(s)
        labels = {"stream": name, "account": s.account_id}
        assert sample(text, "kinesd_stream_incoming_records_total", **labels) == 20
        assert sample(text, "kinesd_stream_write_throttled_records_total", **labels) == 5
        assert sample(text, "kinesd_stream_failed_records_total", **labels) == 3
    finally:
        s.stop()


def test_shard_level_series_follow_enhanced_monitoring(srv, k):
    name = create_active(k, unique_name("em"), 2)
    k.enable_enhanced_monitoring(StreamName=name, ShardLevelMetrics=["IncomingRecords"])
    k.put_records(StreamName=name, Records=[{"Data": b"d", "PartitionKey": f"k{i}"} for i in range(20)])
    text = scrape(srv)
    per_shard = [sample(text, "kinesd_shard_incoming_records_total", stream=name, shard=s) or 0
                 for s in ("shardId-000000000000", "shardId-000000000001")]
    assert sum(per_shard) == 20
    # Only the metric asked for.
    assert sample(text, "kinesd_shard_incoming_bytes_total", stream=name) is None


def test_fan_out_consumer_lag_and_subscriptions(srv, k):
    name = create_active(k, unique_name("fo"), 1)
    consumer = active_consumer(k, name, "c1")
    for i in range(3):
        k.put_record(StreamName=name, Data=f"r{i}".encode(), PartitionKey="pk")
    events = k.subscribe_to_shard(ConsumerARN=consumer, ShardId=SHARD0, StartingPosition={"Type": "TRIM_HORIZON"})[
        "EventStream"]
    got = []
    for ev in events:
        got += ev["SubscribeToShardEvent"]["Records"]
        if len(got) >= 3:
            break
    text = scrape(srv)
    labels = {"stream": name, "account": srv.account_id}
    assert sample(text, "kinesd_stream_outgoing_records_total", api="SubscribeToShard", **labels) == 3
    assert sample(text, "kinesd_subscriptions_open") >= 1
    lag = sample(text, "kinesd_consumer_lag_seconds", consumer="c1", **labels)
    assert lag is not None and 0 <= lag < 60
    events.close()


def test_polling_consumers_iterator_age(srv, k):
    """GetRecords.IteratorAgeMilliseconds: the age of the last record a shard's most recent
    GetRecords returned, 0 once a call comes back caught up; per stream the worst shard, per
    shard only under EnableEnhancedMonitoring."""
    name = create_active(k, unique_name("age"), 2)
    labels = {"stream": name, "account": srv.account_id}
    metric = "kinesd_stream_get_records_iterator_age_milliseconds"
    shard_metric = "kinesd_shard_get_records_iterator_age_milliseconds"
    shard0, shard1 = "shardId-000000000000", "shardId-000000000001"
    for key in ("0", str(2**127)):  # five records on each shard
        k.put_records(StreamName=name, Records=[{"Data": b"d", "PartitionKey": "p", "ExplicitHashKey": key}] * 5)
    assert sample(scrape(srv), metric, **labels) is None, "nobody read the stream yet"
    time.sleep(1.2)

    def iterator(shard):
        return k.get_shard_iterator(StreamName=name, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]

    # Shard 1 read to the tip, then once more: caught up. Shard 0's reader takes one record.
    out = k.get_records(ShardIterator=iterator(shard1))
    assert len(out["Records"]) == 5
    assert k.get_records(ShardIterator=out["NextShardIterator"])["Records"] == []
    behind = k.get_records(ShardIterator=iterator(shard0), Limit=1)
    assert behind["MillisBehindLatest"] >= 1000
    text = scrape(srv)
    age = sample(text, metric, **labels)
    assert age is not None and 1200 <= age < 60_000, age
    assert sample(text, shard_metric, stream=name) is None, "no shard series without enhanced monitoring"

    # The slow reader catches up: the stream is at 0.
    it = behind["NextShardIterator"]
    while True:
        out = k.get_records(ShardIterator=it)
        it = out["NextShardIterator"]
        if not out["Records"]:
            break
    assert sample(scrape(srv), metric, **labels) == 0

    # Shard series once EnableEnhancedMonitoring names the metric, and only that metric.
    k.enable_enhanced_monitoring(StreamName=name, ShardLevelMetrics=["IteratorAgeMilliseconds"])
    k.put_record(StreamName=name, Data=b"late", PartitionKey="p", ExplicitHashKey="0")
    k.put_record(StreamName=name, Data=b"next", PartitionKey="p", ExplicitHashKey="0")
    time.sleep(1.1)
    assert len(k.get_records(ShardIterator=it, Limit=1)["Records"]) == 1
    text = scrape(srv)
    assert sample(text, shard_metric, shard=shard0, **labels) >= 1000
    assert sample(text, shard_metric, shard=shard1, **labels) == 0
    assert sample(text, metric, **labels) >= 1000
    assert sample(text, "kinesd_shard_incoming_records_total", stream=name) is None


def test_a_scrape_of_1000_streams_stays_cheap(tmp_path):
    s = KinesdServer(create_ms=0, extra_args=["--shard-limit", "2000"])
    try:
        c = s.client()
        for i in range(1000):
            c.create_stream(StreamName=f"many-{i:04}", ShardCount=1)
        c.put_record(StreamName="many-0999", Data=b"x", PartitionKey="p")
        t0 = time.monotonic()
        text = scrape(s)
        took = time.monotonic() - t0
        assert sample(text, "kinesd_stream_incoming_records_total", stream="many-0999") == 1
        assert sum(1 for line in text.splitlines() if line.startswith("kinesd_stream_incoming_records_total{")) == 1000
        # Generous for a debug build on a busy machine; the release figure is in the decision.
        assert took < 2.0, took
    finally:
        s.stop()


# ------------------------------------------------------------------------------ logs


def start_logging(tmp_path, *args: str, level: str = "info") -> tuple[subprocess.Popen, str, Path]:
    log = tmp_path / "kinesd.log"
    env = dict(os.environ, KINESD_LOG=level)
    proc = subprocess.Popen(
        [str(kinesd_binary()), "--port", "0", "--in-memory", "--create-stream-ms", "0", *args],
        stdout=subprocess.PIPE, stderr=open(log, "wb"), stdin=subprocess.DEVNULL, env=env,
    )
    line = proc.stdout.readline().decode()
    m = re.match(r"kinesd listening on (http://\S+)", line)
    assert m, line
    return proc, m.group(1), log


def stop(proc: subprocess.Popen, sig=signal.SIGTERM, timeout: float = 15) -> int:
    proc.send_signal(sig)
    return proc.wait(timeout=timeout)


def test_json_logs_with_one_debug_line_per_request(tmp_path):
    proc, endpoint, log = start_logging(tmp_path, "--log-format", "json", level="kinesd=debug")
    try:
        s = KinesdServer.__new__(KinesdServer)
        s.endpoint, s.region, s.tls_endpoint = endpoint, "us-east-1", None
        c = s.client()
        c.create_stream(StreamName="logged", ShardCount=1)
        c.put_record(StreamName="logged", Data=b"x", PartitionKey="p")
    finally:
        assert stop(proc) == 0
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    assert all("level" in line and "timestamp" in line for line in lines)
    requests_ = [line for line in lines if line.get("message") == "request"]
    put = [line for line in requests_ if line["operation"] == "PutRecord"]
    assert len(put) == 1, requests_
    assert put[0]["stream"] == "logged" and put[0]["status"] == 200 and put[0]["ms"] >= 0
    assert put[0]["level"] == "DEBUG"


def test_slow_requests_are_warnings(tmp_path):
    proc, endpoint, log = start_logging(tmp_path, "--slow-request-ms", "100")
    try:
        rules = {"fault": [{"operations": ["ListStreams"], "latency_ms": 200}]}
        assert requests.put(endpoint + "/_kinesd/faults", data=json.dumps(rules), timeout=10).status_code == 200
        s = KinesdServer.__new__(KinesdServer)
        s.endpoint, s.region, s.tls_endpoint = endpoint, "us-east-1", None
        c = s.client()
        c.list_streams()
        c.describe_limits()
    finally:
        assert stop(proc) == 0
    text = log.read_text()
    warned = [line for line in text.splitlines() if "slow request" in line]
    assert len(warned) == 1, text
    assert "WARN" in warned[0] and "operation=\"ListStreams\"" in warned[0] or "ListStreams" in warned[0]
    # At the default info level there is no per-request line.
    assert "DescribeLimits" not in text


# ------------------------------------------------------------------------------ shutdown


def test_sigterm_answers_in_flight_requests_ends_subscriptions_and_exits_0(tmp_path):
    s = KinesdServer(create_ms=0, data_dir=str(tmp_path / "data"), extra_args=["--consumer-create-ms", "0"])
    c = s.client()
    name = create_active(c, unique_name("down"), 1)
    consumer = active_consumer(c, name, "c")
    c.put_record(StreamName=name, Data=b"before", PartitionKey="p")
    events = c.subscribe_to_shard(ConsumerARN=consumer, ShardId=SHARD0, StartingPosition={"Type": "TRIM_HORIZON"})[
        "EventStream"]
    first = next(iter(events))["SubscribeToShardEvent"]
    assert [r["Data"] for r in first["Records"]] == [b"before"]
    # A request in flight when the signal comes (held by a fault rule's latency).
    rules = {"fault": [{"operations": ["ListStreams"], "latency_ms": 3000}]}
    assert requests.put(s.endpoint + "/_kinesd/faults", data=json.dumps(rules), timeout=10).status_code == 200
    answered = {}

    def slow_call():
        try:
            answered["streams"] = s.client().list_streams()["StreamNames"]
        except Exception as e:  # noqa: BLE001 - recorded for the assertion below
            answered["error"] = e

    t = threading.Thread(target=slow_call)
    t.start()
    time.sleep(0.5)
    t0 = time.monotonic()
    s.proc.send_signal(signal.SIGTERM)
    # The subscription ends as a clean end of stream: iteration stops without an error.
    rest = list(events)
    assert all(not e["SubscribeToShardEvent"]["Records"] for e in rest)
    t.join(timeout=15)
    assert answered.get("streams") == [name], answered
    assert s.proc.wait(timeout=15) == 0
    assert time.monotonic() - t0 < 5
    s.stop()
    # A restart after it is immediate and finds everything.
    t1 = time.monotonic()
    again = KinesdServer(create_ms=0, data_dir=str(tmp_path / "data"))
    try:
        assert time.monotonic() - t1 < 5
        ag = again.client()
        it = ag.get_shard_iterator(StreamName=name, ShardId=SHARD0, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        assert [r["Data"] for r in ag.get_records(ShardIterator=it)["Records"]] == [b"before"]
    finally:
        again.stop()


def test_shutdown_timeout_bounds_the_wait_for_stuck_requests(tmp_path):
    proc, endpoint, _ = start_logging(tmp_path, "--shutdown-timeout-ms", "700")
    host, port = endpoint.removeprefix("http://").split(":")
    # A request whose body never arrives stays in flight (until the 60 s body timeout).
    stuck = socket.create_connection((host, int(port)))
    stuck.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-amz-json-1.1\r\n"
                  b"X-Amz-Target: Kinesis_20131202.ListStreams\r\nContent-Length: 100\r\n\r\n{")
    time.sleep(0.3)
    t0 = time.monotonic()
    assert stop(proc) == 0
    took = time.monotonic() - t0
    stuck.close()
    assert 0.5 < took < 5, took


# ------------------------------------------------------------------------------ first-start rough edges


def test_sigint_right_after_the_listening_line_shuts_down_cleanly():
    for attempt in range(40):
        proc = subprocess.Popen([str(kinesd_binary()), "--port", "0", "--in-memory"],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        assert proc.stdout.readline().startswith(b"kinesd listening on ")
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=15) == 0, f"attempt {attempt}: {proc.returncode}"


def test_a_port_in_use_leaves_nothing_on_disk(tmp_path):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    data = tmp_path / "never-created"
    out = subprocess.run([str(kinesd_binary()), "--port", str(port), "--data-dir", str(data)],
                         capture_output=True, text=True, timeout=30)
    taken.close()
    assert out.returncode != 0
    assert f"cannot listen on 127.0.0.1:{port}" in out.stderr
    assert not data.exists()


def test_a_data_directory_that_is_a_file_is_named_as_such(tmp_path):
    file = tmp_path / "a-file"
    file.write_text("not a directory")
    out = subprocess.run([str(kinesd_binary()), "--port", "0", "--data-dir", str(file)],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode != 0
    assert "not a directory" in out.stderr, out.stderr
    assert "File exists" not in out.stderr


def test_the_harness_leaves_no_log_file_behind():
    s = KinesdServer()
    log = Path(s.log.name)
    assert log.exists()
    s.stop()
    assert not log.exists()


def test_kinesd_raises_its_open_file_soft_limit_to_the_hard_limit():
    """Every connection is a descriptor: a soft limit of a few hundred (1,024 is a common
    default) would refuse clients long before --max-connections. kinesd raises it at start."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    low = 400
    if hard != resource.RLIM_INFINITY and hard <= low:
        pytest.skip(f"the hard limit ({hard}) leaves nothing to raise")
    # The child inherits the limit it is started with.
    resource.setrlimit(resource.RLIMIT_NOFILE, (low, hard))
    try:
        s = KinesdServer()
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    try:
        with open(f"/proc/{s.proc.pid}/limits") as f:
            line = next(l for l in f if l.startswith("Max open files"))
        child_soft, child_hard = line.split()[3:5]
        expected = "unlimited" if hard == resource.RLIM_INFINITY else str(hard)
        assert child_hard == expected
        # An unlimited hard limit cannot become the soft one; anything else is taken whole.
        assert child_soft == (str(low) if hard == resource.RLIM_INFINITY else expected), line
        s.client().list_streams()
    finally:
        s.stop()
