#!/usr/bin/env python3
"""Times CreateStream of 1, 16 and 64 shards through one kinesd node on a 3-node NATS
JetStream cluster (R3) on loopback, which the test harness starts and stops.
Usage (from the checkout, after a build):
  KINESD_BIN=target/debug/kinesd .venv/bin/python scripts/cluster-create-time.py"""

import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "python"))

from nats_harness import NatsCluster, kinesd_node, require_nats_server  # noqa: E402

nats = NatsCluster(require_nats_server())
try:
    node = kinesd_node(nats, f"m{uuid.uuid4().hex[:6]}", create_ms=0)
    try:
        client = node.client()
        for shards in (1, 16, 64):
            started = time.monotonic()
            client.create_stream(StreamName=f"s{shards}", ShardCount=shards)
            print(f"CreateStream of {shards} shards: {time.monotonic() - started:.2f} s")
    finally:
        node.stop()
finally:
    nats.stop()
