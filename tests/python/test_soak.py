"""`kinesd-bench soak` (issue 15, item 10) in a few seconds against a real kinesd on disk: the
producers, polling consumers and fan-out subscribers run through reshards and forced
resubscriptions (--subscription-seconds 4), every sample reads the server's memory, files and
connections, and the verdict finds that each follower consumed exactly what was acknowledged.
The hour-long run is the same command with --minutes 60 and the defaults."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from kinesd_harness import REPO_ROOT, KinesdServer, kinesd_binary


def bench_binary() -> Path:
    """kinesd-bench from the same build as the kinesd under test."""
    path = kinesd_binary().parent / "kinesd-bench"
    if not path.is_file():
        path = REPO_ROOT / "target" / "debug" / "kinesd-bench"
    assert path.is_file(), f"build it with `cargo build -p kinesd-bench` ({path})"
    return path


def test_a_short_soak_follows_reshards_and_consumes_exactly_what_was_acknowledged(tmp_path):
    server = KinesdServer(data_dir=str(tmp_path / "data"), extra_args=["--subscription-seconds", "4"])
    report = tmp_path / "soak.jsonl"
    try:
        run = subprocess.run(
            [
                str(bench_binary()), "soak",
                "--endpoint", server.endpoint,
                "--server-pid", str(server.proc.pid),
                "--seconds", "12", "--sample-every", "3", "--reshard-every", "5",
                "--rate", "1000", "--records-per-request", "50",
                "--report", str(report),
            ],
            capture_output=True, text=True, timeout=150,
        )
        kinesis = server.client()
        stream = kinesis.list_streams()["StreamNames"][0]
        shards = kinesis.list_shards(StreamName=stream)["Shards"]
    finally:
        server.stop()
    assert run.returncode == 0, run.stderr[-4000:]
    lines = [json.loads(line) for line in report.read_text().splitlines()]
    assert [line["type"] for line in lines] == ["start", "sample", "sample", "sample", "sample", "verdict"]
    samples = [line["sample"] for line in lines[1:-1]]
    for s in samples:
        assert s["rss_kib"] > 0 and s["open_files"] > 0, s
        # The sampler's own /metrics connection at least, and producers and subscribers.
        assert s["connections"] >= 1 + 2, s
        assert s["put_records"] > 0 and s["polled_records"] > 0 and s["delivered_records"] > 0, s
        assert s["put_p50_us"] > 0 and s["put_p99_us"] >= s["put_p50_us"], s
        assert s["errors"] == {}, s
        # The server's own view of the polling consumers (/metrics): they keep up.
        assert s["iterator_age_ms"] is not None and s["iterator_age_ms"] < 30_000, s
    verdict = lines[-1]["verdict"]
    totals = verdict["totals"]
    assert verdict["consumed_matches_acknowledged"] is True, verdict
    assert verdict["drained"] is True, verdict
    first_half, second_half = verdict["rss_peak_halves_kib"]
    assert first_half == max(s["rss_kib"] for s in samples[:2]) and second_half == max(s["rss_kib"] for s in samples[2:])
    assert verdict["open_files"] == [samples[0]["open_files"], samples[-1]["open_files"]]
    assert totals["reshards"] >= 2, totals
    # 4 shards, 2 consumers, subscriptions ended by the server every 4 s and at every reshard.
    assert totals["subscriptions"] > 2 * 4 * 2, totals
    # 1,000 records/s for 12 s, paced: fewer when calls take longer than the pace (a loaded machine).
    assert 5_000 <= totals["put"] <= 12_500, totals
    assert [f["follower"] for f in verdict["followers"]] == [
        "polling consumer", "fan-out consumer 0", "fan-out consumer 1",
    ]
    for f in verdict["followers"]:
        assert f["consumed"] == f["acknowledged"] == totals["put"], f
        assert (f["duplicates"], f["reorders"], f["mismatched_shards"]) == (0, 0, []), f
    # The reshards happened on the server: closed parents, open children, as the followers saw.
    closed = [s for s in shards if "EndingSequenceNumber" in s["SequenceNumberRange"]]
    assert len(closed) >= 4 and len(shards) - len(closed) in (2, 4), shards
    assert "soak verdict" in run.stderr and "exactly the acknowledged records, in order" in run.stderr
    assert os.path.getsize(report) > 0
