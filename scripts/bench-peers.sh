#!/usr/bin/env bash
# Benchmarks kinesd side by side with the peers — kinesalite and kinesis-mock (npm
# `kinesis-local`), ferrokinesis (crates.io) — plus the null server (the load generator's
# ceiling), with the same kinesd-bench workloads against each, and writes BENCHMARKS.md and
# docs/bench/throughput.svg.
#
# Usage: scripts/bench-peers.sh
# Environment (all optional):
#   BENCH_DURATION=10   seconds measured per workload per target (the fill of `get` gets as long)
#   BENCH_ROUNDS=3      rounds; each round runs every workload on every target, in a rotated order
#   BENCH_TARGETS="kinesd ferrokinesis kinesalite kinesis-mock"
#   BENCH_WORKLOADS="put-100 put-1k get mixed subscribe"
#   BENCH_FILL=5000000  records written before the catch-up read (bounded by BENCH_DURATION)
#   BENCH_MIXED_RATE=10000  records/s the producers of `mixed` and `subscribe` offer
#   BENCH_OUT=target/bench  results (JSON per run) and server logs
#   BENCH_NO_REPORT=1   leave BENCHMARKS.md and the chart alone
#   BENCH_KINESD=path   benchmark this kinesd binary instead of building target/release/kinesd
#   BENCH_KINESD_COMMIT=id  what BENCH_KINESD was built from, for the report
#   BENCH_CLUSTER=1     also run kinesd in cluster mode (scripts/bench-cluster.py: a 3-node NATS
#                       JetStream cluster, R3, sync_interval: always, 1 and 2 kinesd nodes); its
#                       table goes to $BENCH_OUT/cluster.md and its runs to cluster.json
#   BENCH_CLUSTER_SHARDS="4,16,64"  BENCH_CLUSTER_NODES="1,2"
#
# Peers are installed on first use under target/peers (npm packages in target/peers/node_modules,
# ferrokinesis in target/peers/bin), never globally. A peer that fails to install or start, or
# a run that fails, is reported as such in BENCHMARKS.md. Every run is bounded in time: each
# server is started fresh for each run and stopped after it, and each kinesd-bench call runs
# under `timeout`.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

DURATION=${BENCH_DURATION:-10}
ROUNDS=${BENCH_ROUNDS:-3}
TARGETS=${BENCH_TARGETS:-"kinesd ferrokinesis kinesalite kinesis-mock"}
WORKLOADS=${BENCH_WORKLOADS:-"put-100 put-1k get mixed subscribe"}
FILL=${BENCH_FILL:-5000000}
MIXED_RATE=${BENCH_MIXED_RATE:-10000}
OUT=${BENCH_OUT:-$root/target/bench}
PEERS=$root/target/peers
BENCH=$root/target/release/kinesd-bench
KINESD=${BENCH_KINESD:-$root/target/release/kinesd}

# Pinned peer versions, so reruns compare the same things.
KINESALITE_VERSION=3.3.3
KINESIS_LOCAL_VERSION=0.6.2
FERROKINESIS_VERSION=0.7.0

# One port per target, all on 127.0.0.1.
declare -A PORT=([null]=45670 [kinesd]=45671 [kinesalite]=45672 [kinesis-mock]=45673 [ferrokinesis]=45675)
KINESIS_MOCK_TLS_PORT=45674

step() { printf '\n=== %s\n' "$*" >&2; }
note() { printf '%s\n' "$*" >&2; }

rm -rf "$OUT"
mkdir -p "$OUT/results" "$OUT/logs" "$OUT/status"
# Other work on the machine skews every figure: the report shows the load before and after,
# and the machine's facts (CPU, memory, disk and its fdatasync latency) from before the runs.
cut -d' ' -f1-3 /proc/loadavg > "$OUT/loadavg.start"
python3 scripts/bench_report.py --machine "$OUT/machine.json"

# --- build and install ------------------------------------------------------------------------

if [ -n "${BENCH_KINESD:-}" ]; then
    step "build kinesd-bench (release); kinesd is $KINESD"
    cargo build --release -p kinesd-bench
else
    step "build kinesd and kinesd-bench (release)"
    cargo build --release -p kinesd -p kinesd-bench
fi

# status/<target> holds why a target cannot run; no file means it can.
fail_target() { printf '%s\n' "$2" > "$OUT/status/$1"; note "$1: $2"; }

install_npm_peers() {
    local want=()
    [ -f "$PEERS/node_modules/kinesalite/package.json" ] || want+=("kinesalite@$KINESALITE_VERSION")
    [ -f "$PEERS/node_modules/kinesis-local/main.js" ] || want+=("kinesis-local@$KINESIS_LOCAL_VERSION")
    [ ${#want[@]} -eq 0 ] && return 0
    mkdir -p "$PEERS"
    [ -f "$PEERS/package.json" ] || echo '{"name":"kinesd-bench-peers","private":true}' > "$PEERS/package.json"
    step "install ${want[*]} into $PEERS/node_modules"
    (cd "$PEERS" && npm install --no-audit --no-fund --loglevel=error "${want[@]}") \
        > "$OUT/logs/npm-install.log" 2>&1 || true
}

install_ferrokinesis() {
    [ -x "$PEERS/bin/ferrokinesis" ] && return 0
    step "install ferrokinesis $FERROKINESIS_VERSION into $PEERS/bin (a few minutes)"
    cargo install --quiet --root "$PEERS" --version "$FERROKINESIS_VERSION" ferrokinesis \
        > "$OUT/logs/cargo-install.log" 2>&1 || true
}

for t in $TARGETS; do
    case $t in
        kinesd) ;;
        kinesalite|kinesis-mock)
            if ! command -v node > /dev/null; then fail_target "$t" "not installed: node is missing"; continue; fi
            install_npm_peers
            case $t in
                kinesalite) [ -f "$PEERS/node_modules/kinesalite/package.json" ] ;;
                kinesis-mock) [ -f "$PEERS/node_modules/kinesis-local/main.js" ] ;;
            esac || fail_target "$t" "npm install failed (see $OUT/logs/npm-install.log)"
            ;;
        ferrokinesis)
            install_ferrokinesis
            [ -x "$PEERS/bin/ferrokinesis" ] \
                || fail_target "$t" "cargo install failed (see $OUT/logs/cargo-install.log)"
            ;;
        *) fail_target "$t" "unknown target" ;;
    esac
done

# --- servers ----------------------------------------------------------------------------------

SERVER_PID=
SERVER_DIR=

# Starts target $1 on its port in the background; sets SERVER_PID (the server process itself,
# for CPU and RSS) and returns once the port accepts connections, or fails after 60 s.
start_server() {
    local t=$1 port=${PORT[$1]} log=$2
    SERVER_DIR=
    case $t in
        kinesd)
            # The default, fully durable mode (fdatasync before every answer), fresh data dir.
            SERVER_DIR=$(mktemp -d "${TMPDIR:-/tmp}/kinesd-bench-data.XXXXXX")
            "$KINESD" --host 127.0.0.1 --port "$port" --data-dir "$SERVER_DIR" \
                --create-stream-ms 0 > "$log" 2>&1 &
            ;;
        ferrokinesis)
            # In-memory (its default). It has no listen-address option and binds 0.0.0.0; the
            # load goes to 127.0.0.1 only.
            "$PEERS/bin/ferrokinesis" --port "$port" --create-stream-ms 0 --shard-limit 1000 \
                --log-level warn > "$log" 2>&1 &
            ;;
        kinesalite)
            # In-memory (its default); started through its documented API to bind 127.0.0.1.
            (cd "$PEERS" && exec node -e "
                const server = require('kinesalite')({createStreamMs: 0, deleteStreamMs: 0,
                    updateStreamMs: 0, shardLimit: 1000});
                server.listen($port, '127.0.0.1', () => console.log('kinesalite on $port'));
            ") > "$log" 2>&1 &
            ;;
        kinesis-mock)
            # The Scala.js build of kinesis-mock. Plain HTTP on KINESIS_MOCK_PLAIN_PORT (it binds
            # 0.0.0.0, and also serves TLS on KINESIS_MOCK_TLS_PORT with the bundled certificate).
            KINESIS_MOCK_PLAIN_PORT=$port KINESIS_MOCK_TLS_PORT=$KINESIS_MOCK_TLS_PORT \
                KINESIS_MOCK_CERT_PATH="$PEERS/node_modules/kinesis-local/server.json" \
                CREATE_STREAM_DURATION=0ms DELETE_STREAM_DURATION=0ms \
                UPDATE_SHARD_COUNT_DURATION=0ms SHARD_LIMIT=1000 LOG_LEVEL=WARN \
                node "$PEERS/node_modules/kinesis-local/main.js" > "$log" 2>&1 &
            ;;
        null)
            "$BENCH" null-server --listen "127.0.0.1:$port" --exit-after $((DURATION * 4 + 120)) \
                > "$log" 2>&1 &
            ;;
    esac
    SERVER_PID=$!
    local waited=0
    until (exec 3<> "/dev/tcp/127.0.0.1/$port") 2> /dev/null; do
        if ! kill -0 "$SERVER_PID" 2> /dev/null || [ $waited -ge 600 ]; then
            stop_server
            return 1
        fi
        sleep 0.1
        waited=$((waited + 1))
    done
}

stop_server() {
    [ -n "$SERVER_PID" ] || return 0
    kill "$SERVER_PID" 2> /dev/null || true
    for _ in $(seq 50); do
        kill -0 "$SERVER_PID" 2> /dev/null || break
        sleep 0.2
    done
    kill -9 "$SERVER_PID" 2> /dev/null || true
    wait "$SERVER_PID" 2> /dev/null || true
    SERVER_PID=
    [ -n "$SERVER_DIR" ] && rm -rf "$SERVER_DIR"
    SERVER_DIR=
}
trap stop_server EXIT

# --- workloads --------------------------------------------------------------------------------

# shellcheck source=bench-workloads.sh
source "$root/scripts/bench-workloads.sh"

# The null server answers PutRecords only: it is the ceiling row of the put workloads.
targets_for() {
    case $1 in
        put-*) echo "$TARGETS null" ;;
        *) echo "$TARGETS" ;;
    esac
}

# Rotates a list by $1 places, so each round starts with a different target.
rotate() {
    local n=$1; shift
    local list=("$@") count=$#
    for i in $(seq 0 $((count - 1))); do printf '%s ' "${list[$(((i + n) % count))]}"; done
}

for workload in $WORKLOADS; do
    printf '%s\n' "kinesd-bench $(workload_args "$workload") --endpoint http://127.0.0.1:PORT --server-pid PID --json" \
        > "$OUT/status/command.$workload"
done

for round in $(seq 1 "$ROUNDS"); do
    for workload in $WORKLOADS; do
        # shellcheck disable=SC2046
        for t in $(rotate $((round - 1)) $(targets_for "$workload")); do
            [ -f "$OUT/status/$t" ] && continue
            tag="$workload.$t.$round"
            step "round $round/$ROUNDS: $workload on $t"
            if ! start_server "$t" "$OUT/logs/$tag.server.log"; then
                note "$t did not start (see $OUT/logs/$tag.server.log)"
                printf 'did not start\n' > "$OUT/results/$tag.failed"
                continue
            fi
            rc=0
            # shellcheck disable=SC2046
            timeout $((DURATION * 4 + 60)) "$BENCH" $(workload_args "$workload") \
                --endpoint "http://127.0.0.1:${PORT[$t]}" --server-pid "$SERVER_PID" \
                --label "$t" --json --quiet \
                > "$OUT/results/$tag.json" 2> "$OUT/logs/$tag.bench.log" || rc=$?
            if [ $rc -eq 0 ]; then
                grep -E '^(PutRecords|GetRecords|end-to-end|fill|delivered|put-to-event)|error:|note:' "$OUT/logs/$tag.bench.log" >&2 || true
            else
                note "the run failed with exit code $rc (see $OUT/logs/$tag.bench.log)"
                { [ $rc -eq 124 ] && echo "killed after $((DURATION * 4 + 60)) s"; \
                  grep -v '^\s*$' "$OUT/logs/$tag.bench.log" | tail -n 1 || true; \
                  echo "run failed (exit code $rc)"; } | head -n 1 > "$OUT/results/$tag.failed"
                rm -f "$OUT/results/$tag.json"
            fi
            stop_server
        done
    done
done

if [ -n "${BENCH_CLUSTER:-}" ]; then
    step "cluster mode (scripts/bench-cluster.py)"
    BENCH_KINESD="$KINESD" python3 scripts/bench-cluster.py --shards "${BENCH_CLUSTER_SHARDS:-4,16,64}" \
        --nodes "${BENCH_CLUSTER_NODES:-1,2}" --rounds "$ROUNDS" --duration "$DURATION" \
        --json "$OUT/cluster.json" > "$OUT/cluster.md" 2> "$OUT/logs/cluster.log" \
        || note "the cluster benchmark failed (see $OUT/logs/cluster.log)"
    cat "$OUT/cluster.md" >&2
fi

cut -d' ' -f1-3 /proc/loadavg > "$OUT/loadavg.end"

if [ -z "${BENCH_NO_REPORT:-}" ]; then
    step "write BENCHMARKS.md and docs/bench/throughput.svg"
    python3 scripts/bench_report.py --results "$OUT" --markdown BENCHMARKS.md \
        --svg docs/bench/throughput.svg --rounds "$ROUNDS" --duration "$DURATION" \
        --fill "$FILL" --mixed-rate "$MIXED_RATE" ${BENCH_KINESD:+--kinesd-binary "$KINESD"} \
        ${BENCH_KINESD_COMMIT:+--kinesd-commit "$BENCH_KINESD_COMMIT"} \
        --versions "kinesalite=$KINESALITE_VERSION,kinesis-mock=$KINESIS_LOCAL_VERSION (npm kinesis-local),ferrokinesis=$FERROKINESIS_VERSION"
fi
step "done: results in $OUT"
