#!/usr/bin/env bash
# PutRecords throughput and disk use while disk is reclaimed (decision 0017): a full-speed load
# (kinesd-bench put, 4 shards, 8 connections, 500 × 1 KiB, 20 s) on a 24-hour stream, while a
# second stream with 8,760 hours' retention takes 2,000 × 1 KiB records/s throughout, so every
# journal segment holds records of both. Prints the load's figures, the journal's size at the
# end and the journal metrics.
#
#   scripts/bench-reclaim.sh BINARY [PORT]
#   HOURARG="--retention-hour-ms 50" scripts/bench-reclaim.sh target/release/kinesd
#       (the 24-hour stream's records then expire 1.2 s after they arrive; without HOURARG
#       nothing expires during the run, which is the comparison without reclaim)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:?usage: scripts/bench-reclaim.sh BINARY [PORT]}
PORT=${2:-45710}
cargo build --release -q -p kinesd-bench
BENCH=target/release/kinesd-bench
PY=.venv/bin/python
[ -x "$PY" ] || PY=python3
DATA=$(mktemp -d "${TMPDIR:-/tmp}/kinesd-reclaim.XXXXXX")
PID=
# shellcheck disable=SC2317
stop() {
    [ -n "$PID" ] && { kill "$PID" 2> /dev/null || true; wait "$PID" 2> /dev/null || true; }
    rm -rf "$DATA"
}
trap stop EXIT
# shellcheck disable=SC2086
"$BIN" --host 127.0.0.1 --port "$PORT" --data-dir "$DATA/data" --create-stream-ms 0 --update-stream-ms 0 \
    ${HOURARG:-} > "$DATA/server.log" 2>&1 &
PID=$!
for _ in $(seq 100); do (exec 3<> "/dev/tcp/127.0.0.1/$PORT") 2> /dev/null && break; sleep 0.1; done
"$PY" - "$PORT" << 'PY'
import sys, time, boto3
c = boto3.client("kinesis", endpoint_url=f"http://127.0.0.1:{sys.argv[1]}", region_name="us-east-1",
                 aws_access_key_id="k", aws_secret_access_key="s")
c.create_stream(StreamName="long", ShardCount=1)
time.sleep(0.3)
c.increase_stream_retention_period(StreamName="long", RetentionPeriodHours=8760)
time.sleep(0.3)
PY
"$BENCH" put --endpoint "http://127.0.0.1:$PORT" --stream long --shards 1 --connections 1 --record-size 1024 \
    --records-per-request 100 --rate 2000 --duration 30 --quiet > "$DATA/long.out" 2>&1 &
LONG=$!
sleep 1
"$BENCH" put --endpoint "http://127.0.0.1:$PORT" --stream bench --shards 4 --connections 8 --record-size 1024 \
    --records-per-request 500 --keys 1000 --warmup 2 --duration 20 --server-pid "$PID" 2>&1 | tail -4
wait "$LONG"
sleep 3
echo "journal bytes at the end: $(du -sb "$DATA/data/journal" | cut -f1)"
"$PY" - "$PORT" << 'PY'
import sys, urllib.request
text = urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/metrics").read().decode()
print("\n".join(l for l in text.splitlines() if l.startswith("kinesd_journal_") and "_bucket" not in l))
PY
