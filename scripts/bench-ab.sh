#!/usr/bin/env bash
# Compares two kinesd binaries on the same machine in the same run: PutRecords (500 × 100 B and
# 500 × 1 KiB) and GetRecords (catch-up read), the workloads of BENCHMARKS.md, in interleaved
# rounds (A B, then B A, …) so that drift of the machine touches both alike. Each run starts a
# fresh server on a fresh data directory in the default, fully durable mode.
#
#   scripts/bench-ab.sh BINARY_A BINARY_B        e.g. a build of main saved before a change,
#                                                 and target/release/kinesd after it
#   AB_ROUNDS=3 AB_DURATION=5 AB_FILL=2000000 AB_WORKLOADS="put-100 put-1k get"
#   AB_BENCH_ARGS="--access-key K --secret-key S"   more kinesd-bench arguments for every run
#   AB_BENCH=path/to/kinesd-bench                   use this load generator, do not build one
#
# Prints, per workload, each round's records/s, the medians of A and B with B's difference, and
# the median server CPU time per record (kinesd-bench --server-pid).
set -euo pipefail
cd "$(dirname "$0")/.."
A=${1:?usage: scripts/bench-ab.sh BINARY_A BINARY_B}
B=${2:?usage: scripts/bench-ab.sh BINARY_A BINARY_B}
ROUNDS=${AB_ROUNDS:-3}
DURATION=${AB_DURATION:-5}
FILL=${AB_FILL:-2000000}
WORKLOADS=${AB_WORKLOADS:-"put-100 put-1k get"}
PORT=${AB_PORT:-45690}

# AB_BENCH=PATH runs that kinesd-bench binary instead of building target/release/kinesd-bench
# (building it alone resolves other dependency features than a build with kinesd, and rebuilds).
if [ -n "${AB_BENCH:-}" ]; then
    BENCH=$AB_BENCH
else
    cargo build --release -q -p kinesd-bench
    BENCH=target/release/kinesd-bench
fi
OUT=$(mktemp -d "${TMPDIR:-/tmp}/kinesd-ab.XXXXXX")
SERVER_PID= DATA=
stop() {
    [ -n "$SERVER_PID" ] && { kill "$SERVER_PID" 2> /dev/null || true; wait "$SERVER_PID" 2> /dev/null || true; }
    [ -n "$DATA" ] && rm -rf "$DATA"
    SERVER_PID= DATA=
}
trap 'stop; rm -rf "$OUT"' EXIT

MIXED_RATE=${AB_MIXED_RATE:-10000}
# shellcheck source=bench-workloads.sh
source scripts/bench-workloads.sh

run() { # binary label workload round
    DATA=$(mktemp -d "${TMPDIR:-/tmp}/kinesd-ab-data.XXXXXX")
    "$1" --host 127.0.0.1 --port "$PORT" --data-dir "$DATA" --create-stream-ms 0 > "$OUT/server.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 300); do (exec 3<> "/dev/tcp/127.0.0.1/$PORT") 2> /dev/null && break; sleep 0.1; done
    # shellcheck disable=SC2046
    timeout $((DURATION * 10 + 120)) "$BENCH" $(workload_args "$3") ${AB_BENCH_ARGS:-} --quiet --json --endpoint "http://127.0.0.1:$PORT" \
        --server-pid "$SERVER_PID" > "$OUT/$2-$3-$4.json" 2> /dev/null
    stop
}

for round in $(seq "$ROUNDS"); do
    for w in $WORKLOADS; do
        if [ $((round % 2)) -eq 1 ]; then order="A B"; else order="B A"; fi
        for side in $order; do
            if [ "$side" = A ]; then bin=$A; else bin=$B; fi
            run "$bin" "$side" "$w" "$round"
            printf '%s round %s %s done\n' "$w" "$round" "$side" >&2
        done
    done
done

python3 - "$OUT" "$ROUNDS" $WORKLOADS <<'PY'
import json, statistics, sys
out, rounds, workloads = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
def run(side, w, r):
    doc = json.load(open(f"{out}/{side}-{w}-{r}.json"))
    call = [c for c in doc["calls"] if c["name"] in ("PutRecords", "GetRecords")][0]
    cpu = (doc.get("server") or {}).get("cpu_us_per_record")
    return call["records_per_s"], cpu, sum(c["errors"] for c in doc["calls"])
print(f"{'workload':<10} {'A records/s (rounds)':<52} {'B records/s (rounds)':<52} {'A median':>10} {'B median':>10} {'B vs A':>7} {'A CPU/rec':>10} {'B CPU/rec':>10}")
for w in workloads:
    a = [run("A", w, r) for r in range(1, rounds + 1)]
    b = [run("B", w, r) for r in range(1, rounds + 1)]
    errors = sum(x[2] for x in a + b)
    ma, mb = statistics.median(x[0] for x in a), statistics.median(x[0] for x in b)
    cpu = lambda xs: (f"{statistics.median(x[1] for x in xs):.3f} µs" if all(x[1] is not None for x in xs) else "-")
    fmt = lambda xs: ", ".join(f"{x[0] / 1000:,.0f}k" for x in xs)
    print(f"{w:<10} {fmt(a):<52} {fmt(b):<52} {ma:>10,.0f} {mb:>10,.0f} {100 * (mb - ma) / ma:>+6.1f}% {cpu(a):>10} {cpu(b):>10}"
          + (f"  ({errors} errors)" if errors else ""))
PY
