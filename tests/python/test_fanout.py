"""Enhanced fan-out through boto3: consumer registration and its errors, tags on consumers,
DeleteStream with consumers, and SubscribeToShard over HTTP/1.1 (chunked event stream): pushed
delivery, every starting position, exact resumption, heartbeats, ChildShards at a shard's end,
the second-subscription rule, errors before and after the stream starts, lifetime, and a
restart with consumers registered."""

from __future__ import annotations

import json
import socket
import statistics
import threading
import time

import pytest
from botocore.exceptions import ClientError, EventStreamError

from kinesd_harness import KinesdServer, create_active, error_of, signed_headers, target, unique_name, wait_for_status

SHARD0 = "shardId-000000000000"
FANOUT_ARGS = ["--consumer-create-ms", "200", "--consumer-delete-ms", "200"]


@pytest.fixture(scope="module")
def srv(request):
    """One server, or with `--cluster` two nodes on a NATS cluster that the clients alternate
    between call by call (conftest.TwoNodes)."""
    if request.config.getoption("--cluster"):
        from conftest import TwoNodes

        s = TwoNodes(create_ms=50, delete_ms=50, update_ms=50, extra_args=FANOUT_ARGS)
    else:
        s = KinesdServer(create_ms=50, delete_ms=50, update_ms=50, extra_args=FANOUT_ARGS)
    yield s
    s.stop()


@pytest.fixture(scope="module")
def k(srv):
    return srv.client()


def stream_arn(k, name):
    return k.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"]


def wait_consumer(k, arn, status="ACTIVE", timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        d = k.describe_stream_consumer(ConsumerARN=arn)["ConsumerDescription"]
        if d["ConsumerStatus"] == status:
            return d
        time.sleep(0.02)
    raise AssertionError(f"consumer {arn} not {status}")


def wait_consumer_gone(k, arn, timeout=5.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            k.describe_stream_consumer(ConsumerARN=arn)
        except ClientError as e:
            assert error_of(e)[:2] == (400, "ResourceNotFoundException")
            return
        assert time.monotonic() < deadline, f"consumer {arn} still there"
        time.sleep(0.02)


def active_consumer(k, name, consumer="c1"):
    arn = k.register_stream_consumer(StreamARN=stream_arn(k, name), ConsumerName=consumer)["Consumer"][
        "ConsumerARN"
    ]
    wait_consumer(k, arn)
    return arn


def subscribe(k, arn, shard=SHARD0, **position):
    position.setdefault("Type", "TRIM_HORIZON")
    return k.subscribe_to_shard(ConsumerARN=arn, ShardId=shard, StartingPosition=position)["EventStream"]


def put(k, name, n, prefix="r", **kwargs):
    return [
        k.put_record(StreamName=name, Data=f"{prefix}{i}".encode(), PartitionKey="pk", **kwargs)["SequenceNumber"]
        for i in range(n)
    ]


def collect(events, count, timeout=10.0):
    """Reads events until `count` records arrived; returns (records, last event)."""
    records, last = [], None
    deadline = time.monotonic() + timeout
    for ev in events:
        last = ev["SubscribeToShardEvent"]
        records += last["Records"]
        if len(records) >= count or time.monotonic() > deadline:
            break
    return records, last


# ------------------------------------------------------------------------------ consumers


def test_consumer_lifecycle_arn_and_listing(k, srv):
    name = create_active(k, unique_name())
    sarn = stream_arn(k, name)
    before = time.time()
    c = k.register_stream_consumer(StreamARN=sarn, ConsumerName="app.1-x")["Consumer"]
    assert c["ConsumerStatus"] == "CREATING"
    secs = int(c["ConsumerCreationTimestamp"].timestamp())
    assert abs(secs - before) < 5
    assert c["ConsumerARN"] == f"{sarn}/consumer/app.1-x:{secs}"
    d = wait_consumer(k, c["ConsumerARN"])
    assert d["StreamARN"] == sarn and d["ConsumerName"] == "app.1-x"
    by_name = k.describe_stream_consumer(StreamARN=sarn, ConsumerName="app.1-x")["ConsumerDescription"]
    assert by_name == d
    both = k.describe_stream_consumer(ConsumerARN=c["ConsumerARN"], StreamARN=sarn, ConsumerName="app.1-x")
    assert both["ConsumerDescription"] == d
    with pytest.raises(ClientError) as e:
        k.describe_stream_consumer(ConsumerARN=c["ConsumerARN"], StreamARN=sarn, ConsumerName="other")
    assert error_of(e)[:2] == (400, "InvalidArgumentException")
    listed = k.list_stream_consumers(StreamARN=sarn)["Consumers"]
    assert [x["ConsumerARN"] for x in listed] == [c["ConsumerARN"]] and listed[0]["ConsumerStatus"] == "ACTIVE"
    assert k.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["ConsumerCount"] == 1

    k.deregister_stream_consumer(ConsumerARN=c["ConsumerARN"])
    assert k.describe_stream_consumer(ConsumerARN=c["ConsumerARN"])["ConsumerDescription"]["ConsumerStatus"] == "DELETING"
    wait_consumer_gone(k, c["ConsumerARN"])
    assert k.list_stream_consumers(StreamARN=sarn)["Consumers"] == []
    assert k.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["ConsumerCount"] == 0
    # Deregistration by stream and name works too.
    k.register_stream_consumer(StreamARN=sarn, ConsumerName="again")
    k.deregister_stream_consumer(StreamARN=sarn, ConsumerName="again")


def test_registration_errors_and_the_limit_of_20(k, srv):
    name = create_active(k, unique_name())
    sarn = stream_arn(k, name)
    for i in range(20):
        k.register_stream_consumer(StreamARN=sarn, ConsumerName=f"c{i:02}")
    with pytest.raises(ClientError) as e:
        k.register_stream_consumer(StreamARN=sarn, ConsumerName="c00")
    assert error_of(e)[:2] == (400, "ResourceInUseException")
    with pytest.raises(ClientError) as e:
        k.register_stream_consumer(StreamARN=sarn, ConsumerName="one-too-many")
    assert error_of(e)[:2] == (400, "LimitExceededException")
    assert "20" in error_of(e)[2]
    # Paged listing: MaxResults and NextToken, in name order, nothing lost or repeated.
    seen, page = [], k.list_stream_consumers(StreamARN=sarn, MaxResults=7)
    while True:
        seen += [c["ConsumerName"] for c in page["Consumers"]]
        if "NextToken" not in page:
            break
        page = k.list_stream_consumers(StreamARN=sarn, MaxResults=7, NextToken=page["NextToken"])
    assert seen == [f"c{i:02}" for i in range(20)]
    created = k.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamCreationTimestamp"]
    assert len(k.list_stream_consumers(StreamARN=sarn, StreamCreationTimestamp=created)["Consumers"]) == 20
    first = k.list_stream_consumers(StreamARN=sarn, MaxResults=5)
    with pytest.raises(ClientError) as e:
        k.list_stream_consumers(StreamARN=sarn, NextToken=first["NextToken"], StreamCreationTimestamp=created)
    assert error_of(e) == (400, "InvalidArgumentException",
                           "NextToken and StreamCreationTimestamp cannot be provided together.")
    with pytest.raises(ClientError) as e:
        k.register_stream_consumer(StreamARN=srv.arn("no-such-stream"), ConsumerName="x")
    assert error_of(e) == (400, "ResourceNotFoundException",
                           f"Stream no-such-stream under account {srv.account_id} not found.")
    with pytest.raises(ClientError) as e:
        k.describe_stream_consumer(ConsumerARN=f"{sarn}/consumer/nobody:1700000000")
    assert error_of(e)[:2] == (400, "ResourceNotFoundException")
    k.delete_stream(StreamName=name, EnforceConsumerDeletion=True)


def test_tags_on_consumers(k):
    name = create_active(k, unique_name())
    arn = active_consumer(k, name)
    k.tag_resource(ResourceARN=arn, Tags={"team": "a", "env": "dev"})
    k.tag_resource(ResourceARN=arn, Tags={"team": "b"})
    assert k.list_tags_for_resource(ResourceARN=arn)["Tags"] == [
        {"Key": "env", "Value": "dev"}, {"Key": "team", "Value": "b"}]
    k.untag_resource(ResourceARN=arn, TagKeys=["env"])
    assert k.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "team", "Value": "b"}]
    # The stream's tags are its own.
    assert k.list_tags_for_resource(ResourceARN=stream_arn(k, name))["Tags"] == []
    k.delete_stream(StreamName=name, EnforceConsumerDeletion=True)


def test_delete_stream_with_consumers_needs_enforce(k, srv):
    name = create_active(k, unique_name())
    sarn = stream_arn(k, name)
    arn = active_consumer(k, name)
    with pytest.raises(ClientError) as e:
        k.delete_stream(StreamName=name)
    assert error_of(e) == (
        400, "ResourceInUseException",
        f"DeleteStream can't delete {sarn} because there are consumers associated with this data stream. "
        f"To delete {name} anyway, set the EnforceConsumerDeletion parameter to true to force the deletion "
        "of all the consumers that are associated with it.")
    assert wait_for_status(k, name, "ACTIVE")
    k.delete_stream(StreamName=name, EnforceConsumerDeletion=True)
    wait_consumer_gone(k, arn)
    # The name is free again, with no consumer.
    create_active(k, name)
    assert k.list_stream_consumers(StreamARN=sarn)["Consumers"] == []
    k.delete_stream(StreamName=name)


# ------------------------------------------------------------------------- SubscribeToShard


def test_records_are_pushed_as_soon_as_they_are_durable(k):
    name = create_active(k, unique_name())
    arn = active_consumer(k, name)
    events = iter(subscribe(k, arn, Type="LATEST"))
    latencies = []
    for i in range(20):
        t0 = time.monotonic()
        seq = k.put_record(StreamName=name, Data=f"d{i}".encode(), PartitionKey="pk")["SequenceNumber"]
        ev = next(events)["SubscribeToShardEvent"]
        latencies.append(time.monotonic() - t0)
        assert [r["SequenceNumber"] for r in ev["Records"]] == [seq]
        assert ev["Records"][0]["Data"] == f"d{i}".encode()
        assert ev["ContinuationSequenceNumber"] == seq
        assert ev["MillisBehindLatest"] == 0
    # Put and event together, far below any polling interval (ferrokinesis polls every 200 ms).
    assert statistics.median(latencies) < 0.05, latencies
    k.delete_stream(StreamName=name, EnforceConsumerDeletion=True)


def test_every_starting_position(k):
    name = create_active(k, unique_name())
    # One consumer per position: a consumer's new subscription within 5 s of its last is refused.
    arns = iter([active_consumer(k, name, f"c{i}") for i in range(5)])
    seqs = put(k, name, 5)
    time.sleep(1.1)
    after_ts = time.time()
    seqs += put(k, name, 2, prefix="late")

    def first_record(**pos):
        events = subscribe(k, next(arns), **pos)
        records, _ = collect(events, 1)
        events._raw_stream.close()
        return records[0]["SequenceNumber"]

    assert first_record(Type="TRIM_HORIZON") == seqs[0]
    assert first_record(Type="AT_SEQUENCE_NUMBER", SequenceNumber=seqs[2]) == seqs[2]
    assert first_record(Type="AFTER_SEQUENCE_NUMBER", SequenceNumber=seqs[2]) == seqs[3]
    assert first_record(Type="AT_TIMESTAMP", Timestamp=after_ts) == seqs[5]
    events = subscribe(k, next(arns), Type="LATEST")
    new = put(k, name, 1, prefix="new")
    records, _ = collect(events, 1)
    assert [r["SequenceNumber"] for r in records] == new
    k.delete_stream(StreamName=name, EnforceConsumerDeletion=True)


def test_resuming_from_the_continuation_loses_and_repeats_nothing(k):
    name = create_active(k, unique_name())
    arns = [active_consumer(k, name, f"c{i}") for i in range(4)]
    written = put(k, name, 30)
    got, cont = [], None
    # Each round uses a fresh consumer (a new subscription of the same one within 5 s is
    # refused), resuming where the previous one's last event ended.
    for round_, arn in enumerate(arns):
        pos = {"Type": "TRIM_HORIZON"} if cont is None else {"Type": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": cont}
        events = subscribe(k, arn, **pos)
        ev = next(iter(events))["SubscribeToShardEvent"]
        got += [r["SequenceNumber"] for r in ev["Records"]]
        cont = ev["ContinuationSequenceNumber"]
        if round_ < len(arns) - 1:
            written += put(k, name, 5, prefix=f"more{round_}")
        events._raw_stream.close()
    assert got == written
    k.delete_stream(StreamName=name, EnforceConsumerDeletion=True)


def test_a_quiet_shard_still_gets_an_event_every_5_seconds(k):
    name = create_active(k, unique_name())
    arn = active_consumer(k, name)
    events = iter(subscribe(k, arn))
    t0 = time.monotonic()
    gaps = []
    for _ in range(2):
        ev = next(events)["SubscribeToShardEvent"]
        gaps.append(time.monotonic() - t0)
        t0 = time.monotonic()
        assert ev["Records"] == [] and ev["MillisBehindLatest"] == 0
        assert ev["ContinuationSequenceNumber"]
    assert max(gaps) < 5.0, gaps
    # The continuation of an empty shard (its StartingSequenceNumber) resumes at its start.
    other = active_consumer(k, name, "c2")
    resumed = iter(subscribe(k, other, Type="AFTER_SEQUENCE_NUMBER", SequenceNumber=ev["ContinuationSequenceNumber"]))
    seq = put(k, name, 1)
    assert [r["SequenceNumber"] for r in next(resumed)["SubscribeToShardEvent"]["Records"]] == seq
    k.delete_stream(StreamName=name, EnforceConsumerDeletion=True)


def test_a_second_live_subscription_is_refused_and_a_disconnect_frees_it(k, srv):
    name = create_active(k, unique_name())
    arn = active_consumer(k, name)
    first = subscribe(k, arn)
    with pytest.raises(ClientError) as e:
        subscribe(k, arn)
    assert error_of(e)[:2] == (400, "ResourceInUseException")
    # Another shard, or another consumer, is a different subscription.
    other = active_consumer(k, name, "c2")
    subscribe(k, other)._raw_stream.close()
    first._raw_stream.close()
    time.sleep(1.0)
    second = subscribe(k, arn)  # within 5 s of the first: only possible because it was freed
    second._raw_stream.close()


def test_errors_before_the_stream_are_ordinary_responses(k, srv):
    slow = KinesdServer(extra_args=["--consumer-create-ms", "3000"])
    try:
        sk = slow.client()
        name = create_active(sk, unique_name())
        c = sk.register_stream_consumer(StreamARN=stream_arn(sk, name), ConsumerName="slow")["Consumer"]
        with pytest.raises(ClientError) as e:
            subscribe(sk, c["ConsumerARN"])
        secs = c["ConsumerARN"].rsplit(":", 1)[1]
        assert error_of(e) == (
            400, "ResourceInUseException",
            f"Consumer slow with creation timestamp {secs} under stream: {name} , account "
            f"{slow.account_id} is not in ACTIVE status.")
    finally:
        slow.stop()
    name = create_active(k, unique_name())
    arn = active_consumer(k, name)
    with pytest.raises(ClientError) as e:
        subscribe(k, f"{stream_arn(k, name)}/consumer/ghost:1700000000")
    assert error_of(e)[:2] == (400, "ResourceNotFoundException")
    with pytest.raises(ClientError) as e:
        subscribe(k, arn, shard="shardId-000000000007")
    assert error_of(e) == (400, "ResourceNotFoundException",
                           f"Shard shardId-000000000007 in stream {name} under account {srv.account_id} does not exist")
    with pytest.raises(ClientError) as e:
        subscribe(k, arn, Type="AT_SEQUENCE_NUMBER", SequenceNumber="12345")
    assert error_of(e)[:2] == (400, "InvalidArgumentException")
    with pytest.raises(ClientError) as e:
        subscribe(k, arn, Type="AT_SEQUENCE_NUMBER")
    assert error_of(e)[:2] == (400, "InvalidArgumentException")
    # None of these took the consumer's subscription slot.
    subscribe(k, arn)._raw_stream.close()
    k.delete_stream(StreamName=name, EnforceConsumerDeletion=True)


def test_child_shards_end_a_split_shard(k):
    name = create_active(k, unique_name())
    arn = active_consumer(k, name)
    before = put(k, name, 3)
    events = iter(subscribe(k, arn))
    got = [r["SequenceNumber"] for r in next(events)["SubscribeToShardEvent"]["Records"]]
    assert got == before
    k.split_shard(StreamName=name, ShardToSplit=SHARD0, NewStartingHashKey=str(2**127))
    final = None
    for ev in events:
        e = ev["SubscribeToShardEvent"]
        got += [r["SequenceNumber"] for r in e["Records"]]
        if e.get("ChildShards"):
            final = e
    assert final is not None, "the stream ended without ChildShards"
    assert "ContinuationSequenceNumber" not in final or final["ContinuationSequenceNumber"] is None
    assert sorted(c["ShardId"] for c in final["ChildShards"]) == ["shardId-000000000001", "shardId-000000000002"]
    for child in final["ChildShards"]:
        assert child["ParentShards"] == [SHARD0]
        assert set(child["HashKeyRange"]) == {"StartingHashKey", "EndingHashKey"}
    assert got == before
    k.delete_stream(StreamName=name, EnforceConsumerDeletion=True)


def test_a_kcl_style_walk_across_a_split_loses_and_repeats_nothing(k):
    name = create_active(k, unique_name(), 1)
    arn = active_consumer(k, name)
    keys = [f"key-{i}" for i in range(40)]
    written = {}
    stop = threading.Event()

    def writer():
        i = 0
        while not stop.is_set() and i < 400:
            key = keys[i % len(keys)]
            r = k.put_record(StreamName=name, Data=f"v{i}".encode(), PartitionKey=key)
            written[r["SequenceNumber"]] = (r["ShardId"], f"v{i}".encode())
            i += 1
            time.sleep(0.002)

    t = threading.Thread(target=writer)
    t.start()
    time.sleep(0.2)
    k.split_shard(StreamName=name, ShardToSplit=SHARD0, NewStartingHashKey=str(2**127))
    wait_for_status(k, name, "ACTIVE")
    time.sleep(0.3)
    stop.set()
    t.join()
    read = {}
    expected = {}
    for shard, _ in written.values():
        expected[shard] = expected.get(shard, 0) + 1
    assert len(expected) == 3, f"records on the parent and both children: {expected}"
    todo = [s["ShardId"] for s in k.list_shards(StreamName=name, ShardFilter={"Type": "AT_TRIM_HORIZON"})["Shards"]]
    assert todo == [SHARD0]
    done = set()
    while todo:
        shard = todo.pop(0)
        events = subscribe(k, arn, shard=shard)
        for ev in events:
            e = ev["SubscribeToShardEvent"]
            for r in e["Records"]:
                assert r["SequenceNumber"] not in read, "repeated"
                read[r["SequenceNumber"]] = (shard, r["Data"])
            if e.get("ChildShards"):
                for c in e["ChildShards"]:
                    if c["ShardId"] not in done and c["ShardId"] not in todo:
                        todo.append(c["ShardId"])
                break
            if shard != SHARD0 and sum(1 for v in read.values() if v[0] == shard) == expected[shard]:
                break  # an open child read to its tip
        events._raw_stream.close()
        done.add(shard)
        time.sleep(0)
    assert read == written
    k.delete_stream(StreamName=name, EnforceConsumerDeletion=True)


def test_deleting_the_stream_ends_live_subscriptions_with_an_exception(k):
    name = create_active(k, unique_name())
    arn = active_consumer(k, name)
    events = iter(subscribe(k, arn))
    put(k, name, 1)
    next(events)
    t0 = time.monotonic()
    k.delete_stream(StreamName=name, EnforceConsumerDeletion=True)
    with pytest.raises(EventStreamError) as e:
        for _ in events:
            pass
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert time.monotonic() - t0 < 2


def test_a_subscription_ends_cleanly_after_its_lifetime():
    s = KinesdServer(extra_args=["--consumer-create-ms", "0", "--subscription-seconds", "2"])
    try:
        sk = s.client()
        name = create_active(sk, unique_name())
        arn = active_consumer(sk, name)
        t0 = time.monotonic()
        events = list(subscribe(sk, arn))  # ends by itself, without an error
        assert 1.9 < time.monotonic() - t0 < 4
        assert all(e["SubscribeToShardEvent"]["Records"] == [] for e in events)
    finally:
        s.stop()


def test_consumers_survive_a_restart(tmp_path):
    args = dict(extra_args=FANOUT_ARGS, data_dir=str(tmp_path))
    s = KinesdServer(**args)
    try:
        sk = s.client()
        name = create_active(sk, unique_name())
        arn = active_consumer(sk, name)
        sk.tag_resource(ResourceARN=arn, Tags={"k": "v"})
        deleting = sk.register_stream_consumer(StreamARN=stream_arn(sk, name), ConsumerName="going")["Consumer"]
        wait_consumer(sk, deleting["ConsumerARN"])
        seqs = put(sk, name, 3)
    finally:
        s.stop()
    s = KinesdServer(**args)
    try:
        sk = s.client()
        d = sk.describe_stream_consumer(ConsumerARN=arn)["ConsumerDescription"]
        assert d["ConsumerStatus"] == "ACTIVE"
        assert sk.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "k", "Value": "v"}]
        assert len(sk.list_stream_consumers(StreamARN=stream_arn(sk, name))["Consumers"]) == 2
        records, _ = collect(subscribe(sk, arn), 3)
        assert [r["SequenceNumber"] for r in records] == seqs
    finally:
        s.stop()


def stalled_subscription(server, arn):
    """A SubscribeToShard over a raw socket with a small receive buffer, whose answer is never
    read past its status line."""
    body = json.dumps({"ConsumerARN": arn, "ShardId": SHARD0, "StartingPosition": {"Type": "LATEST"}}).encode()
    headers = signed_headers(server, target("SubscribeToShard"), body)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", int(server.endpoint.rsplit(":", 1)[1])))
    request = "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\n" + "".join(
        f"{k}: {v}\r\n" for k, v in headers.items()) + f"Content-Length: {len(body)}\r\n\r\n"
    sock.sendall(request.encode() + body)
    assert sock.recv(12) == b"HTTP/1.1 200"
    return sock


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def test_a_stalled_subscriber_slows_neither_writers_nor_other_subscribers(tmp_path):
    """A client that subscribes and then never reads: its subscription waits on its own bounded
    buffer while 80 MiB are written, another consumer receives everything, and the server's
    memory does not grow with what the stalled one has not read."""
    s = KinesdServer(extra_args=FANOUT_ARGS, data_dir=str(tmp_path))
    try:
        sk = s.client()
        name = create_active(sk, unique_name())
        stalled_arn = active_consumer(sk, name, "stalled")
        fast_arn = active_consumer(sk, name, "fast")
        stalled = stalled_subscription(s, stalled_arn)
        events = iter(subscribe(sk, fast_arn, Type="LATEST"))
        chunk = b"x" * (512 * 1024)
        received = 0

        def write_and_receive(calls):
            nonlocal received
            t0 = time.monotonic()
            for _ in range(calls):
                out = sk.put_records(StreamName=name, Records=[{"Data": chunk, "PartitionKey": "p"}] * 10)
                assert out["FailedRecordCount"] == 0
            while received < calls * 10:
                received += len(next(events)["SubscribeToShardEvent"]["Records"])
            return time.monotonic() - t0

        # 20 MiB, then 3 × 20 MiB more. A buffer that held what the stalled subscriber has not
        # read would grow by 20 MiB a round and never shrink: +40 MiB from the second sample to
        # the last. The allocator (mimalloc) may keep freed 5 MiB request buffers for a while,
        # more so on a loaded machine: one round has shown +26 MiB and CI once +20 MiB that
        # the next rounds partly gave back ([58996, 78908, 78916, 71432] KiB). So the check is
        # the trend over the later rounds, which a retained buffer cannot pass, plus a loose
        # bound on the total that is still far below the 60 MiB the stalled one fell behind.
        first = write_and_receive(4)
        rss_after_first = rss_kib(s.proc.pid)
        later, seconds = [], []
        for _ in range(3):
            received = 0
            seconds.append(write_and_receive(4))
            later.append(rss_kib(s.proc.pid))
        samples = f"(KiB after each round: {[rss_after_first, *later]})"
        trend_mib = (later[-1] - later[0]) / 1024
        assert trend_mib < 16, (
            f"RSS grew {trend_mib:.1f} MiB over the last two rounds while the stalled subscriber fell "
            f"40 MiB further behind {samples}")
        growth_mib = (min(later) - rss_after_first) / 1024
        assert growth_mib < 30, (
            f"RSS grew at least {growth_mib:.1f} MiB while the stalled subscriber fell 60 MiB further behind {samples}")
        assert first < 15 and max(seconds) < 15, (first, seconds)
        stalled.close()
    finally:
        s.stop()


def test_five_seconds_later_a_new_subscription_takes_over(k):
    name = create_active(k, unique_name())
    arn = active_consumer(k, name)
    first = iter(subscribe(k, arn, Type="LATEST"))
    time.sleep(5.1)
    second = iter(subscribe(k, arn, Type="LATEST"))
    with pytest.raises(EventStreamError) as e:
        for _ in first:
            pass
    assert e.value.response["Error"]["Code"] == "ResourceInUseException"
    seq = put(k, name, 1)
    assert [r["SequenceNumber"] for r in next(second)["SubscribeToShardEvent"]["Records"]] == seq
    k.delete_stream(StreamName=name, EnforceConsumerDeletion=True)


def test_a_stalled_subscriber_holds_its_subscription_no_longer_than_its_lifetime():
    s = KinesdServer(extra_args=["--consumer-create-ms", "0", "--subscription-seconds", "2"])
    try:
        sk = s.client()
        name = create_active(sk, unique_name())
        arn = active_consumer(sk, name)
        stalled = stalled_subscription(s, arn)
        chunk = b"x" * (512 * 1024)
        for _ in range(2):  # 10 MiB: far more than the stream's buffer and the socket's
            sk.put_records(StreamName=name, Records=[{"Data": chunk, "PartitionKey": "p"}] * 10)
        time.sleep(2.5)
        # Under 5 s after the stalled one started: only possible because it ended at its lifetime.
        subscribe(sk, arn)._raw_stream.close()
        stalled.close()
    finally:
        s.stop()


def test_resource_policies_on_consumers(k, srv):
    slow = KinesdServer(extra_args=["--consumer-create-ms", "1500"])
    try:
        sk = slow.client()
        name = create_active(sk, unique_name())
        c = sk.register_stream_consumer(StreamARN=stream_arn(sk, name), ConsumerName="p")["Consumer"]
        policy = json.dumps({"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "kinesis:SubscribeToShard",
            "Resource": c["ConsumerARN"]}]})
        with pytest.raises(ClientError) as e:
            sk.put_resource_policy(ResourceARN=c["ConsumerARN"], Policy=policy)
        secs = c["ConsumerARN"].rsplit(":", 1)[1]
        assert error_of(e) == (
            400, "ResourceInUseException",
            f"Consumer p with creation timestamp {secs} under stream {name} and account {slow.account_id} "
            "is not in ACTIVE status.")
        wait_consumer(sk, c["ConsumerARN"])
        assert sk.get_resource_policy(ResourceARN=c["ConsumerARN"])["Policy"] == "{}"
        sk.put_resource_policy(ResourceARN=c["ConsumerARN"], Policy=policy)
        assert sk.get_resource_policy(ResourceARN=c["ConsumerARN"])["Policy"] == policy
        assert sk.get_resource_policy(ResourceARN=stream_arn(sk, name))["Policy"] == "{}"
        sk.delete_resource_policy(ResourceARN=c["ConsumerARN"])
        assert sk.get_resource_policy(ResourceARN=c["ConsumerARN"])["Policy"] == "{}"
        with pytest.raises(ClientError) as e:
            sk.delete_resource_policy(ResourceARN=c["ConsumerARN"])
        assert error_of(e) == (400, "ResourceNotFoundException",
                               f"No resource policy found for resource ARN {c['ConsumerARN']}.")
    finally:
        slow.stop()
