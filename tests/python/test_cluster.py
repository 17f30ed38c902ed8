"""Cluster mode: two kinesd nodes on one 3-node NATS JetStream cluster (R3 streams), each
reached with boto3. What one node writes, the other reads; an iterator or sequence number
issued by one works on the other."""

from __future__ import annotations

import subprocess
import tempfile
import threading
import time
import uuid

import pytest

from kinesd_harness import KinesdServer, create_active, kinesd_binary, read_all
from nats_harness import NatsCluster, require_nats_server


@pytest.fixture(scope="module")
def nats():
    cluster = NatsCluster(require_nats_server())
    yield cluster
    cluster.stop()


def node(nats: NatsCluster, prefix: str) -> KinesdServer:
    return KinesdServer(
        data_dir=tempfile.mkdtemp(prefix="kinesd-node-"),
        extra_args=["--nats-url", nats.urls, "--nats-replicas", "3", "--nats-prefix", prefix],
    )


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
