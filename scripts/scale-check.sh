#!/usr/bin/env bash
# Scale checks of the durable store (issue: 10,000 shards, flat memory, fast start-up).
# Fills data directories through the engine, then starts kinesd on each and reports the time
# to the first answered request and RSS. Needs about 12 GB of free disk; takes a few minutes.
#   scripts/scale-check.sh [WORK_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-target/scale}
cargo build --release -p kinesd --bin kinesd --example fill
rm -rf "$work" && mkdir -p "$work"
fill=target/release/examples/fill
$fill --dir "$work/100mb-1000-shards" --streams 10 --shards 100 --megabytes 100 --record-size 1000
$fill --dir "$work/10gb-1000-shards" --streams 10 --shards 100 --megabytes 10240 --record-size 1000
$fill --dir "$work/1gb-10000-shards" --streams 1 --shards 10000 --megabytes 1000 --record-size 1000
for d in 100mb-1000-shards 10gb-1000-shards; do
    echo "== $d"; scripts/startup_probe.py target/release/kinesd "$work/$d"
done
echo "== 1gb-10000-shards"; scripts/startup_probe.py target/release/kinesd "$work/1gb-10000-shards" --shard-limit 20000
rm -rf "$work"
