"""Cluster mode: two kinesd nodes on one 3-node NATS JetStream cluster (R3 streams), each
reached with boto3. What one node writes, the other reads; an iterator or sequence number
issued by one works on the other."""

from __future__ import annotations

import subprocess
import threading
import time
import uuid

import pytest

from kinesd_harness import (
    KinesdServer,
    active_consumer,
    create_active,
    kinesd_binary,
    read_all,
    unique_name,
    wait_for_status,
    wait_until_gone,
)
from nats_harness import kinesd_node


node = kinesd_node


def kill9(server: KinesdServer) -> None:
    """Ends a node the hard way: no shutdown, nothing flushed or finished."""
    server.proc.kill()
    server.proc.wait(timeout=10)


@pytest.mark.timeout(120)
def test_a_stream_created_through_one_node_is_used_through_the_other_at_once(nats):
    """Both nodes run before the stream exists. What A creates, B answers for the moment A's
    CreateStream returned (no restart, no wait): describe, list, put, iterators, reads; a split
    through A is followed by B's writes; a consumer registered through A feeds a subscription
    through B; a delete through B is seen by A."""
    prefix = f"t{uuid.uuid4().hex[:8]}"
    a = node(nats, prefix)
    b = node(nats, prefix)
    try:
        ka, kb = a.client(), b.client()
        name = unique_name("x")
        ka.create_stream(StreamName=name, ShardCount=2)
        # At once, through B: the stream exists (CREATING or already ACTIVE).
        status = kb.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamStatus"]
        assert status in ("CREATING", "ACTIVE")
        wait_for_status(kb, name, "ACTIVE")
        assert name in kb.list_streams()["StreamNames"]
        put = kb.put_record(StreamName=name, Data=b"via B", PartitionKey="p", ExplicitHashKey="0")
        assert put["ShardId"] == "shardId-000000000000"
        ka.put_record(StreamName=name, Data=b"via A", PartitionKey="p", ExplicitHashKey="0")
        it = kb.get_shard_iterator(StreamName=name, ShardId=put["ShardId"], ShardIteratorType="TRIM_HORIZON")
        assert [r["Data"] for r in kb.get_records(ShardIterator=it["ShardIterator"])["Records"]] == [b"via B", b"via A"]
        it_a = ka.get_shard_iterator(StreamName=name, ShardId=put["ShardId"], ShardIteratorType="LATEST")
        kb.put_record(StreamName=name, Data=b"after", PartitionKey="p", ExplicitHashKey="0")
        assert [r["Data"] for r in kb.get_records(ShardIterator=it_a["ShardIterator"])["Records"]] == [b"after"]

        # Tags through B, seen through A.
        kb.add_tags_to_stream(StreamName=name, Tags={"team": "b"})
        deadline = time.monotonic() + 10
        while ka.list_tags_for_stream(StreamName=name)["Tags"] != [{"Key": "team", "Value": "b"}]:
            assert time.monotonic() < deadline, "A does not see B's tag"
            time.sleep(0.05)

        # Split shard 0 through A; B's writes go to the children, the parent ends where it was.
        middle = (2**128 // 2) // 2
        ka.split_shard(StreamName=name, ShardToSplit="shardId-000000000000", NewStartingHashKey=str(middle))
        wait_for_status(ka, name, "ACTIVE")
        wait_for_status(kb, name, "ACTIVE")
        shards = {s["ShardId"]: s for s in kb.list_shards(StreamName=name)["Shards"]}
        assert len(shards) == 4 and "EndingSequenceNumber" in shards["shardId-000000000000"]["SequenceNumberRange"]
        low = kb.put_record(StreamName=name, Data=b"low", PartitionKey="p", ExplicitHashKey="0")
        high = kb.put_record(StreamName=name, Data=b"high", PartitionKey="p", ExplicitHashKey=str(middle + 1))
        assert (low["ShardId"], high["ShardId"]) == ("shardId-000000000002", "shardId-000000000003")
        assert [r["Data"] for r in read_all(ka, name, "shardId-000000000000")] == [b"via B", b"via A", b"after"]
        assert [r["Data"] for r in read_all(ka, name, "shardId-000000000002")] == [b"low"]

        # A consumer registered through A; B's subscription gets records written through A,
        # before and after it started.
        consumer = active_consumer(ka, name, "reader")
        assert kb.describe_stream_consumer(ConsumerARN=consumer)["ConsumerDescription"]["ConsumerStatus"] == "ACTIVE"
        events = kb.subscribe_to_shard(ConsumerARN=consumer, ShardId="shardId-000000000002",
                                       StartingPosition={"Type": "TRIM_HORIZON"})["EventStream"]
        later = threading.Timer(
            0.5, lambda: ka.put_record(StreamName=name, Data=b"pushed", PartitionKey="p", ExplicitHashKey="0"))
        later.start()
        got: list[bytes] = []
        deadline = time.monotonic() + 15
        try:
            for event in events:
                got += [r["Data"] for r in event["SubscribeToShardEvent"]["Records"]]
                if len(got) >= 2 or time.monotonic() > deadline:
                    break
        finally:
            events.close()
            later.join()
        assert got == [b"low", b"pushed"]

        # Deleted through B: gone through A, in listings too.
        kb.delete_stream(StreamName=name, EnforceConsumerDeletion=True)
        wait_until_gone(ka, name)
        assert name not in ka.list_streams()["StreamNames"]
    finally:
        a.stop()
        b.stop()


@pytest.mark.timeout(120)
def test_a_split_whose_node_is_killed_is_finished_by_the_other(nats):
    """SplitShard through A puts the stream in UPDATING for 5 s; A is killed -9 at once. B ends
    the transition at its deadline (parent closed at its end, children created, once), and a
    node started afterwards sees the same."""
    prefix = f"t{uuid.uuid4().hex[:8]}"
    a = node(nats, prefix, update_ms=5000)
    b = node(nats, prefix, update_ms=5000)
    c = None
    try:
        ka, kb = a.client(), b.client()
        name = create_active(ka, shards=1)
        for i in range(5):
            kb.put_record(StreamName=name, Data=f"r{i}".encode(), PartitionKey="p")
        ka.split_shard(StreamName=name, ShardToSplit="shardId-000000000000", NewStartingHashKey=str(2**127))
        kill9(a)
        assert kb.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamStatus"] == "UPDATING"
        wait_for_status(kb, name, "ACTIVE", timeout=30)
        shards = kb.list_shards(StreamName=name)["Shards"]
        assert [s["ShardId"] for s in shards] == [f"shardId-00000000000{i}" for i in range(3)]
        put = kb.put_record(StreamName=name, Data=b"child", PartitionKey="p", ExplicitHashKey="1")
        assert put["ShardId"] == "shardId-000000000001"
        c = node(nats, prefix)
        kc = c.client()
        assert kc.list_shards(StreamName=name)["Shards"] == shards
        assert [r["Data"] for r in read_all(kc, name, "shardId-000000000000")] == [f"r{i}".encode() for i in range(5)]
    finally:
        a.stop()
        b.stop()
        if c is not None:
            c.stop()


def test_a_record_written_through_one_node_is_read_through_the_other(nats):
    prefix = f"t{uuid.uuid4().hex[:8]}"
    a = node(nats, prefix)
    b = None
    try:
        ka = a.client()
        name = create_active(ka, shards=2)
        put = ka.put_record(StreamName=name, Data=b"through A", PartitionKey="pk-1")
        shard = put["ShardId"]
        iterator_from_a = ka.get_shard_iterator(
            StreamName=name, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        # Node B starts after the stream exists (phase 1: a node loads the catalog at start).
        b = node(nats, prefix)
        kb = b.client()
        assert kb.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["OpenShardCount"] == 2
        records = read_all(kb, name, shard)
        assert [(r["Data"], r["PartitionKey"], r["SequenceNumber"]) for r in records] == [
            (b"through A", "pk-1", put["SequenceNumber"])
        ]
        # A's iterator works on B, and A's sequence number positions B's iterator.
        got = kb.get_records(ShardIterator=iterator_from_a)["Records"]
        assert [r["Data"] for r in got] == [b"through A"]
        at = kb.get_shard_iterator(
            StreamName=name, ShardId=shard, ShardIteratorType="AT_SEQUENCE_NUMBER",
            StartingSequenceNumber=put["SequenceNumber"],
        )["ShardIterator"]
        assert [r["Data"] for r in kb.get_records(ShardIterator=at)["Records"]] == [b"through A"]
        # Written through B later, read through A: positions are JetStream's, shared by both.
        put_b = kb.put_record(StreamName=name, Data=b"through B", PartitionKey="pk-1")
        assert put_b["ShardId"] == shard
        assert int(put_b["SequenceNumber"]) > int(put["SequenceNumber"])
        assert [r["Data"] for r in read_all(ka, name, shard)] == [b"through A", b"through B"]
        batch = ka.put_records(
            StreamName=name,
            Records=[{"Data": f"r{i}".encode(), "PartitionKey": "pk-1"} for i in range(50)],
        )
        assert batch["FailedRecordCount"] == 0
        seqs = [int(r["SequenceNumber"]) for r in batch["Records"]]
        assert seqs == sorted(seqs) and len(set(seqs)) == 50
        assert [r["Data"] for r in read_all(kb, name, shard)][2:] == [f"r{i}".encode() for i in range(50)]
    finally:
        a.stop()
        if b is not None:
            b.stop()


def test_cluster_options_are_checked(nats):
    """Bad cluster options stop the start with a message naming the option."""
    for args, option in [
        (["--nats-replicas", "7"], "--nats-replicas"),
        (["--nats-prefix", "a.b"], "--nats-prefix"),
        (["--in-memory"], "--in-memory"),
    ]:
        done = subprocess.run(
            [str(kinesd_binary()), "--port", "0", "--nats-url", nats.urls, *args],
            capture_output=True, timeout=30, stdin=subprocess.DEVNULL,
        )
        assert done.returncode != 0 and option in done.stderr.decode(), (args, done.stderr)


@pytest.mark.timeout(300)
def test_acknowledged_records_survive_a_killed_nats_server_under_load_from_two_nodes(nats):
    """Writers on both nodes; kill -9 one NATS server mid-way and restart it. Every record a
    PutRecords acknowledged is then readable through either node, unchanged, under the sequence
    number it was given, and each writer's records of a shard are in the order it wrote them."""
    prefix = f"t{uuid.uuid4().hex[:8]}"
    a = node(nats, prefix)
    b = None
    try:
        name = create_active(a.client(), shards=2)
        b = node(nats, prefix)
        acked: dict[bytes, tuple[str, str]] = {}
        order: dict[str, list[bytes]] = {}
        lock = threading.Lock()
        failures: list[str] = []
        started = threading.Event()

        def writer(label: str, server: KinesdServer) -> None:
            client = server.client()
            deadline = time.monotonic() + 120
            for n in range(40):
                pending = [f"{label}-{n}-{i}".encode() for i in range(20)]
                while pending:
                    if time.monotonic() > deadline:
                        failures.append(f"{label}: records still failing after 120 s")
                        return
                    try:
                        reply = client.put_records(
                            StreamName=name,
                            Records=[{"Data": d, "PartitionKey": d.decode()} for d in pending],
                        )
                    except Exception:  # noqa: BLE001 - an election: try the whole request again
                        time.sleep(0.2)
                        continue
                    retry = []
                    with lock:
                        for data, result in zip(pending, reply["Records"]):
                            if "SequenceNumber" in result:
                                acked[data] = (result["ShardId"], result["SequenceNumber"])
                                order.setdefault(f"{label}/{result['ShardId']}", []).append(data)
                            else:
                                retry.append(data)
                    pending = retry
                    if retry:
                        time.sleep(0.2)
                if n == 5:
                    started.set()

        writers = [
            threading.Thread(target=writer, args=("a", a)),
            threading.Thread(target=writer, args=("b", b)),
        ]
        for w in writers:
            w.start()
        assert started.wait(60), "writers made no progress"
        with lock:
            acked_before_kill = len(acked)
        nats.kill(0)
        assert all(w.is_alive() for w in writers), "the kill must land while both nodes write"
        time.sleep(2)
        nats.start(0)
        nats.wait_ready()
        for w in writers:
            w.join(timeout=180)
            assert not w.is_alive(), "a writer did not finish"
        assert not failures, failures
        assert len(acked) == 2 * 40 * 20 and acked_before_kill < len(acked) // 2
        for reader in (a.client(), b.client()):
            per_shard: dict[str, list[tuple[int, bytes]]] = {}
            for shard in ("shardId-000000000000", "shardId-000000000001"):
                for r in read_all(reader, name, shard):
                    per_shard.setdefault(shard, []).append((int(r["SequenceNumber"]), r["Data"]))
            for shard, records in per_shard.items():
                seqs = [s for s, _ in records]
                assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs), f"{shard} out of order"
            for data, where in acked.items():
                # A retried request may have stored a record twice; the acknowledged copy is
                # the one under the acknowledged sequence number.
                copies = [(shard, str(s)) for shard, recs in per_shard.items() for s, d in recs if d == data]
                assert where in copies, f"{data!r} acknowledged at {where}, stored at {copies}"
            for key, datas in order.items():
                positions = [int(acked[d][1]) for d in datas]
                assert positions == sorted(positions), f"{key} out of write order"
    finally:
        a.stop()
        if b is not None:
            b.stop()
