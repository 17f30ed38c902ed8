"""Cluster mode with --enforce-limits: two kinesd nodes on one 3-node NATS JetStream cluster
share their limits' usage (engine/limits/gossip.rs), so a shard written through both at
twice its rate admits about its rate, not twice it, and a control-plane rate spent through
one node is spent on the other."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from botocore.exceptions import ClientError

from kinesd_harness import unique_name
from nats_harness import kinesd_node

SHARD_RATE = 1000  # AWS's records/s per shard, which --enforce-limits applies.
OFFERED = 2 * SHARD_RATE  # records/s, through both nodes together
WARM_UP = 1.5  # s of writes before the measured window: both nodes' first bursts are spent
WINDOW = 5.0  # s measured
# Measured on a 2-core machine (debug build): 997-1,010/s (see docs/decisions/0021).
# Without shared usage each node admits its own 1,000/s: about 2,000/s.
BOUND = 1.35 * SHARD_RATE


def limited_nodes(nats):
    prefix = f"l{uuid.uuid4().hex[:8]}"
    a = kinesd_node(nats, prefix, extra_args=["--enforce-limits"])
    b = kinesd_node(nats, prefix, extra_args=["--enforce-limits"])
    return a, b


def wait_active(client, name: str) -> None:
    """Polls slower than DescribeStreamSummary's 20 calls a second."""
    deadline = time.monotonic() + 30
    while client.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamStatus"] != "ACTIVE":
        assert time.monotonic() < deadline, f"{name} not ACTIVE"
        time.sleep(0.2)


@pytest.mark.timeout(120)
def test_a_shard_written_through_two_nodes_at_twice_its_rate_admits_about_its_rate(nats):
    a, b = limited_nodes(nats)
    try:
        name = unique_name("lim")
        a.client().create_stream(StreamName=name, ShardCount=1)
        wait_active(a.client(), name)
        wait_active(b.client(), name)

        # Four writers, two per node, each sending 50 records every 0.1 s (500 records/s).
        writers, batch, period = 4, 50, 0.1
        assert writers * batch / period == OFFERED
        start = time.monotonic() + 0.2
        window = (start + WARM_UP, start + WARM_UP + WINDOW)
        counts = {"offered": 0, "acked": 0, "throttled": 0, "other": []}
        lock = threading.Lock()

        def write(server, w):
            client = server.client()
            records = [{"Data": b"x" * 10, "PartitionKey": f"w{w}-{i}"} for i in range(batch)]
            tick = start + w * period / writers  # writers spread over the period
            while tick < window[1]:
                time.sleep(max(0.0, tick - time.monotonic()))
                sent_at = time.monotonic()
                try:
                    out = client.put_records(StreamName=name, Records=records)["Records"]
                except ClientError as e:
                    with lock:
                        counts["other"].append(e.response["Error"]["Code"])
                    out = []
                if window[0] <= sent_at < window[1]:
                    with lock:
                        counts["offered"] += batch
                        counts["acked"] += sum(1 for r in out if "SequenceNumber" in r)
                        throttled = [r for r in out if r.get("ErrorCode") == "ProvisionedThroughputExceededException"]
                        counts["throttled"] += len(throttled)
                        counts["other"] += [r["ErrorCode"] for r in out if r.get("ErrorCode") and r not in throttled]
                tick += period

        threads = [threading.Thread(target=write, args=((a, b)[w % 2], w)) for w in range(writers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert not any(t.is_alive() for t in threads)

        offered_rate = counts["offered"] / WINDOW
        acked_rate = counts["acked"] / WINDOW
        print(f"offered {offered_rate:.0f}/s, acknowledged {acked_rate:.0f}/s, "
              f"throttled {counts['throttled'] / WINDOW:.0f}/s over {WINDOW} s")
        assert counts["other"] == [], counts["other"]
        assert offered_rate >= 0.9 * OFFERED, f"the writers did not keep up: {offered_rate:.0f}/s"
        assert counts["throttled"] > 0, "records over the shard's rate fail"
        assert acked_rate < BOUND, f"{acked_rate:.0f} records/s acknowledged through two nodes"
        assert acked_rate > 0.8 * SHARD_RATE, f"the shard's rate is still given: {acked_rate:.0f}/s"
    finally:
        a.stop()
        b.stop()


@pytest.mark.timeout(60)
def test_a_control_plane_call_through_one_node_spends_the_rate_on_the_other(nats):
    """DescribeLimits: one call a second per account. Through A, then half a second later
    through B: B heard of A's call and refuses; a second later B answers again."""
    a, b = limited_nodes(nats)
    try:
        ka, kb = a.client(), b.client()
        for attempt in range(5):
            ka.describe_limits()
            time.sleep(0.5)
            try:
                kb.describe_limits()
            except ClientError as e:
                assert e.response["Error"]["Code"] == "LimitExceededException"
                break
            # B answered: its gossip subscription may not have been in place yet; try again
            # once both buckets have refilled.
            time.sleep(1.1)
        else:
            pytest.fail("B never heard of A's DescribeLimits calls")
        assert attempt <= 1, f"B heard only at attempt {attempt}"
        time.sleep(1.1)
        kb.describe_limits()
    finally:
        a.stop()
        b.stop()
