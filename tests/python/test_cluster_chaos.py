"""Cluster mode under failures: writers through two kinesd nodes on a 3-node JetStream cluster
while a NATS server and a kinesd node are killed -9 and restarted, or while a shard is split.
Afterwards every record a PutRecords acknowledged is read back through every node, unchanged,
under the shard and sequence number it was acknowledged with, and each writer's records of a
shard are in the order it wrote them. Each test is bounded in time and stops by itself."""

from __future__ import annotations

import tempfile
import threading
import time
import uuid

import pytest

from kinesd_harness import KinesdServer, create_active, read_all, wait_for_status
from nats_harness import kinesd_node, require_nats_server, terminate


node = kinesd_node


class Load:
    """Writers, each sending `batches` PutRecords of `size` records through one node (looked
    up afresh for every request, so that a restarted node is used once it is back), retrying
    failed records until acknowledged, for at most `budget` seconds."""

    def __init__(self, name: str, nodes: dict[str, KinesdServer], batches: int = 40, size: int = 20,
                 budget: float = 150.0):
        self.name, self.nodes, self.batches, self.size = name, nodes, batches, size
        self.deadline = time.monotonic() + budget
        self.acked: dict[bytes, tuple[str, str]] = {}
        self.order: dict[str, list[bytes]] = {}
        self.failures: list[str] = []
        self.lock = threading.Lock()
        self.progress = {label: 0 for label in nodes}
        self.stopped = threading.Event()
        self.winding_down = threading.Event()
        self.started_batches = {label: 0 for label in nodes}
        self.threads = [threading.Thread(target=self._write, args=(label,), daemon=True) for label in nodes]
        for t in self.threads:
            t.start()

    def _client(self, label: str):
        server = self.nodes[label]
        return server, server.client()

    def _write(self, label: str) -> None:
        try:
            self._write_all(label)
        except Exception as e:  # noqa: BLE001 - reported by finish() instead of dying silently
            self.failures.append(f"{label}: writer died: {e!r}")

    def _write_all(self, label: str) -> None:
        server, client = self._client(label)
        for n in range(self.batches):
            if self.winding_down.is_set():
                return
            self.started_batches[label] = n + 1
            pending = [f"{label}-{n}-{i}".encode() for i in range(self.size)]
            while pending:
                if self.stopped.is_set():
                    return
                if time.monotonic() > self.deadline:
                    self.failures.append(f"{label}: records still failing at the deadline")
                    return
                if self.nodes[label] is not server:
                    server, client = self._client(label)
                try:
                    reply = client.put_records(
                        StreamName=self.name,
                        Records=[{"Data": d, "PartitionKey": d.decode()} for d in pending],
                    )
                except Exception:  # noqa: BLE001 - a dead node or an election: send it all again
                    time.sleep(0.2)
                    continue
                retry = []
                with self.lock:
                    for data, result in zip(pending, reply["Records"]):
                        if "SequenceNumber" in result:
                            self.acked[data] = (result["ShardId"], result["SequenceNumber"])
                            self.order.setdefault(f"{label}/{result['ShardId']}", []).append(data)
                        else:
                            retry.append(data)
                pending = retry
                if retry:
                    time.sleep(0.1)
            self.progress[label] = n + 1

    def wait_for(self, batches: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while min(self.progress.values()) < batches:
            assert time.monotonic() < deadline, f"writers made no progress: {self.progress}"
            time.sleep(0.05)

    def wait_for_more(self, batches: int, timeout: float = 60) -> None:
        """Waits until every writer has finished `batches` more batches than it had now."""
        target = {label: done + batches for label, done in self.progress.items()}
        deadline = time.monotonic() + timeout
        while any(self.progress[label] < n for label, n in target.items()):
            assert time.monotonic() < deadline, f"writers made no progress: {self.progress}, wanted {target}"
            time.sleep(0.05)

    def wind_down(self) -> None:
        """The writers finish the batch they are sending (until acknowledged) and start no other."""
        self.winding_down.set()

    def stop(self) -> None:
        """Ends the writers early (a test failed)."""
        self.stopped.set()

    def alive(self) -> bool:
        return all(t.is_alive() for t in self.threads)

    def finish(self) -> None:
        for t in self.threads:
            t.join(timeout=max(1.0, self.deadline - time.monotonic() + 10))
            assert not t.is_alive(), "a writer did not finish"
        assert not self.failures, self.failures
        if not self.winding_down.is_set():
            assert all(n == self.batches for n in self.started_batches.values()), self.started_batches
        assert len(self.acked) == sum(self.started_batches.values()) * self.size

    def verify(self, servers) -> None:
        """Waits for the writers, then checks the acknowledged records through every server."""
        self.finish()
        for server in servers:
            # Right after a NATS server comes back, a shard may move its leader once more and a
            # read answer InternalFailure, which SDKs retry (CI saw it on GetShardIterator after
            # the partition healed); the check is about what is stored, so it retries as they do.
            self.check(server.client(attempts=8))

    def check_latest(self, servers, seconds: float) -> None:
        """For `seconds`, while the writers go on: the latest record acknowledged on each shard is
        read back at its sequence number through every server. Right after a partition heals, a
        NATS server deposed while cut off may answer for a while as if still leading, with the
        stream as it was then; kinesd must not believe it (CI once saw an empty page there)."""
        clients = [server.client(attempts=8) for server in servers]
        deadline = time.monotonic() + seconds
        checked = 0
        while time.monotonic() < deadline:
            with self.lock:
                latest: dict[str, str] = {}
                for shard, seq in self.acked.values():
                    if int(seq) > int(latest.get(shard, "0")):
                        latest[shard] = seq
            for shard, seq in latest.items():
                for client in clients:
                    it = client.get_shard_iterator(StreamName=self.name, ShardId=shard,
                                                   ShardIteratorType="AT_SEQUENCE_NUMBER",
                                                   StartingSequenceNumber=seq)["ShardIterator"]
                    got = client.get_records(ShardIterator=it, Limit=1)["Records"]
                    assert got and got[0]["SequenceNumber"] == seq, f"{shard}: acknowledged {seq}, read {got}"
                    checked += 1
        assert checked > 0

    def check(self, client) -> None:
        """Every acknowledged record is where its acknowledgement said, read through `client`."""
        shards = [s["ShardId"] for s in client.list_shards(StreamName=self.name)["Shards"]]
        per_shard: dict[str, list[tuple[int, bytes]]] = {}
        for shard in shards:
            records = [(int(r["SequenceNumber"]), r["Data"]) for r in read_all(client, self.name, shard)]
            seqs = [s for s, _ in records]
            assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs), f"{shard} out of order"
            per_shard[shard] = records
        stored: dict[bytes, list[tuple[str, str]]] = {}
        for shard, records in per_shard.items():
            for seq, data in records:
                stored.setdefault(data, []).append((shard, str(seq)))
        # A retried request may have stored a record twice; the acknowledged copy is the one
        # under the acknowledged shard and sequence number.
        missing = [(data, where) for data, where in self.acked.items() if where not in stored.get(data, [])]
        if missing:
            data, (shard, seq) = missing[0]
            it = client.get_shard_iterator(StreamName=self.name, ShardId=shard,
                                           ShardIteratorType="AT_SEQUENCE_NUMBER",
                                           StartingSequenceNumber=seq)["ShardIterator"]
            there = [(r["Data"], r["SequenceNumber"]) for r in client.get_records(ShardIterator=it, Limit=3)["Records"]]
            counts = {shard: len(records) for shard, records in per_shard.items()}
            raise AssertionError(
                f"{len(missing)} of {len(self.acked)} acknowledged records not read back (records per shard: "
                f"{counts}); {data!r} acknowledged at {(shard, seq)}, stored at {stored.get(data)}; "
                f"a read at that sequence now gives {there}")
        for key, datas in self.order.items():
            positions = [int(self.acked[d][1]) for d in datas]
            assert positions == sorted(positions), f"{key} out of write order"


@pytest.mark.timeout(300)
def test_kill9_of_a_nats_server_and_a_kinesd_node_under_load_loses_nothing_acknowledged(nats):
    """Writers through both nodes; one NATS server and node A are killed -9 at the same moment,
    and restarted two seconds later (A as a fresh process on a new port). The writers go on
    through both until each has written five more batches. Every acknowledged record is then
    intact and in order, read through the restarted A and through B."""
    prefix = f"c{uuid.uuid4().hex[:8]}"
    nodes = {"a": node(nats, prefix), "b": node(nats, prefix)}
    load = None
    try:
        name = create_active(nodes["a"].client(), shards=4)
        load = Load(name, nodes, batches=1_000_000)
        load.wait_for(5)
        nats.kill(1)
        nodes["a"].proc.kill()
        nodes["a"].proc.wait(timeout=10)
        assert load.alive(), "the kills must land while both nodes write"
        time.sleep(2)
        nats.start(1)
        nats.wait_ready()
        dead = nodes["a"]
        nodes["a"] = node(nats, prefix)
        dead.stop()
        # Writes go on through both nodes after the restarts, then the writers stop.
        load.wait_for_more(5)
        load.wind_down()
        load.verify(nodes.values())
    finally:
        shut_down(load, nodes)


@pytest.mark.timeout(300)
def test_a_split_while_both_nodes_write_loses_nothing_and_fences_the_parent(nats):
    """A split through B while writers run through A and B. Records bound for the parent in
    the moment it closes are refused and retried (into the children); none is acknowledged on
    the parent past its end, so every acknowledged record is readable."""
    prefix = f"c{uuid.uuid4().hex[:8]}"
    nodes = {"a": node(nats, prefix, update_ms=200), "b": node(nats, prefix, update_ms=200)}
    load = None
    try:
        kb = nodes["b"].client()
        name = create_active(kb, shards=2)
        # The writers run until wound down: with a fixed number of batches, a fast machine
        # finished them all before the split took effect and none reached the children.
        load = Load(name, nodes, batches=1_000_000)
        load.wait_for(10)
        kb.split_shard(StreamName=name, ShardToSplit="shardId-000000000000", NewStartingHashKey=str(2**126))
        assert load.alive(), "the split must land while both nodes write"
        wait_for_status(kb, name, "ACTIVE", timeout=30)
        # Ten more batches from each node once the children are open: about half of their
        # records hash into the split shard's range.
        load.wait_for_more(10)
        load.wind_down()
        load.verify(nodes.values())
        children = [d for d, (shard, _) in load.acked.items() if shard in ("shardId-000000000002", "shardId-000000000003")]
        assert children, "no record reached the children"
    finally:
        shut_down(load, nodes)


def shut_down(load: Load | None, nodes: dict[str, KinesdServer]) -> None:
    if load is not None:
        load.stop()
    for server in nodes.values():
        server.stop()


class NetnsNatsCluster:
    """Three nats-servers, each in a network namespace of its own, joined by veth pairs to a
    bridge in the test's namespace (which kinesd runs in, reaching them at 10.77.X.1n). Cutting
    a node's veth partitions it from the other servers and from kinesd at once. Root only;
    everything made here is removed by `stop`."""

    def __init__(self, binary: str):
        import random
        import subprocess

        self.run = lambda *args: subprocess.run(args, check=True, capture_output=True, timeout=30)
        tag = f"{random.randrange(16**4):04x}"
        self.subnet = f"10.77.{random.randrange(256)}"
        self.bridge = f"kdb{tag}"
        self.namespaces = [f"kdn{tag}{i}" for i in range(3)]
        self.outer = [f"kdv{tag}{i}" for i in range(3)]
        self.ips = [f"{self.subnet}.{11 + i}" for i in range(3)]
        self.binary = binary
        self.dir = tempfile.mkdtemp(prefix="kinesd-netns-")
        self.procs: list = [None] * 3
        try:
            self.run("ip", "link", "add", self.bridge, "type", "bridge")
            self.run("ip", "addr", "add", f"{self.subnet}.1/24", "dev", self.bridge)
            self.run("ip", "link", "set", self.bridge, "up")
            for ns, outer, ip in zip(self.namespaces, self.outer, self.ips):
                inner = outer + "i"
                self.run("ip", "netns", "add", ns)
                self.run("ip", "link", "add", outer, "type", "veth", "peer", "name", inner)
                self.run("ip", "link", "set", inner, "netns", ns)
                self.run("ip", "link", "set", outer, "master", self.bridge)
                self.run("ip", "link", "set", outer, "up")
                self.run("ip", "netns", "exec", ns, "ip", "addr", "add", f"{ip}/24", "dev", inner)
                self.run("ip", "netns", "exec", ns, "ip", "link", "set", inner, "up")
                self.run("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")
            routes = ", ".join(f"nats-route://{ip}:6222" for ip in self.ips)
            for i, ip in enumerate(self.ips):
                with open(f"{self.dir}/n{i + 1}.conf", "w") as conf:
                    conf.write(
                        f"server_name: n{i + 1}\nlisten: {ip}:4222\nhttp: {ip}:8222\nmax_payload: 16MB\n"
                        f"jetstream {{\n  store_dir: \"{self.dir}/n{i + 1}\"\n  sync_interval: always\n}}\n"
                        f"cluster {{\n  name: kinesd-netns\n  listen: {ip}:6222\n  routes: [{routes}]\n}}\n"
                    )
                self.start(i)
            self.wait_ready()
        except Exception:
            self.stop()
            raise

    def start(self, i: int) -> None:
        import subprocess

        log = open(f"{self.dir}/n{i + 1}.log", "ab")
        self.procs[i] = subprocess.Popen(
            ["ip", "netns", "exec", self.namespaces[i], self.binary, "-c", f"{self.dir}/n{i + 1}.conf"],
            stdout=log, stderr=log, stdin=subprocess.DEVNULL,
        )

    @property
    def urls(self) -> str:
        return ",".join(f"nats://{ip}:4222" for ip in self.ips)

    def wait_ready(self, timeout: float = 60) -> None:
        import json
        import urllib.request

        def get(ip: str, path: str):
            try:
                with urllib.request.urlopen(f"http://{ip}:8222{path}", timeout=2) as r:
                    return r.status, r.read().decode()
            except Exception as e:  # noqa: BLE001 - not up yet
                return 0, str(e)

        deadline = time.monotonic() + timeout
        for ip in self.ips:
            while get(ip, "/healthz?js-enabled-only=true")[0] != 200:
                assert time.monotonic() < deadline, f"nats-server {ip} did not come up"
                time.sleep(0.1)
        while True:
            status, body = get(self.ips[0], "/jsz")
            if status == 200 and json.loads(body).get("meta_cluster", {}).get("leader"):
                return
            assert time.monotonic() < deadline, "no JetStream meta leader"
            time.sleep(0.1)

    def cut(self, i: int) -> None:
        self.run("ip", "link", "set", self.outer[i], "down")

    def heal(self, i: int) -> None:
        self.run("ip", "link", "set", self.outer[i], "up")

    def stop(self) -> None:
        import shutil
        import subprocess

        for proc in self.procs:
            terminate(proc)
        for cmd in ([["ip", "link", "del", o] for o in self.outer]
                    + [["ip", "netns", "del", ns] for ns in self.namespaces]
                    + [["ip", "link", "del", self.bridge]]):
            subprocess.run(cmd, capture_output=True, timeout=30)
        shutil.rmtree(self.dir, ignore_errors=True)


def netns_usable() -> bool:
    import os
    import shutil
    import subprocess

    if os.geteuid() != 0 or shutil.which("ip") is None:
        return False
    probe = f"kdprobe{os.getpid() % 100000}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, timeout=30).returncode == 0
    if made:
        subprocess.run(["ip", "netns", "del", probe], capture_output=True, timeout=30)
    return made


@pytest.mark.timeout(300)
def test_a_partitioned_nats_server_under_load_loses_nothing_acknowledged():
    """The three NATS servers in network namespaces; one is cut off (its link down: no server
    and no kinesd node reaches it) while both kinesd nodes write. Writes go on through the
    majority; when the link is back and the server has caught up, every acknowledged record is
    intact and in order. Needs root and `ip netns`; skipped otherwise."""
    if not netns_usable():
        pytest.skip("needs root and `ip netns` (network namespaces)")
    cluster = NetnsNatsCluster(require_nats_server())
    prefix = f"p{uuid.uuid4().hex[:8]}"
    nodes: dict[str, KinesdServer] = {}
    load = None
    try:
        nodes = {label: node(cluster, prefix) for label in ("a", "b")}
        name = create_active(nodes["a"].client(), shards=4)
        # Writers that go on until told to stop: the partition must land while they write.
        load = Load(name, nodes, batches=1_000_000)
        load.wait_for(5)
        cluster.cut(0)
        # The clients notice the lost server by missed pings (about 3 s) and the shards it led
        # elect new leaders; after that, writes must go on through the majority.
        time.sleep(8)
        settled = dict(load.progress)
        time.sleep(6)
        assert load.alive(), f"the partition must last while both nodes write: {load.progress} {load.failures}"
        during = {label: load.progress[label] - settled[label] for label in load.progress}
        assert all(n > 0 for n in during.values()), f"writes stalled during the partition: {during}"
        cluster.heal(0)
        load.check_latest(nodes.values(), seconds=4)
        load.wind_down()
        load.finish()
        cluster.wait_ready()
        load.verify(nodes.values())
    finally:
        shut_down(load, nodes)
        cluster.stop()
