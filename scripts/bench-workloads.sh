# The workloads of BENCHMARKS.md, shared by scripts/bench-peers.sh and scripts/bench-ab.sh so
# that both measure exactly the same thing. Source it with DURATION, FILL and MIXED_RATE set.

# The kinesd-bench arguments of each workload. A call unanswered for 15 s counts as a
# `timeout` error, so a server that stalls cannot hold a run.
workload_args() {
    local common="--request-timeout 15"
    case $1 in
        put-100) echo "put --shards 4 --connections 8 --record-size 100 --records-per-request 500 --keys 1000 --warmup 2 --duration $DURATION $common" ;;
        put-1k) echo "put --shards 4 --connections 8 --record-size 1024 --records-per-request 500 --keys 1000 --warmup 2 --duration $DURATION $common" ;;
        get) echo "get --shards 4 --fill $FILL --fill-timeout $DURATION --fill-connections 8 --record-size 100 --readers 4 --limit 10000 --duration $DURATION $common" ;;
        # Enhanced fan-out: 10 consumers subscribed to each of 10 shards (100 event streams)
        # while producers write MIXED_RATE records/s in requests of 100.
        subscribe) echo "subscribe --shards 10 --consumers 10 --producers 4 --rate $MIXED_RATE --record-size 100 --records-per-request 100 --keys 1000 --warmup 2 --duration $DURATION $common" ;;
        mixed) echo "mixed --shards 4 --producers 4 --rate $MIXED_RATE --record-size 100 --records-per-request 500 --poll-ms 5 --warmup 2 --duration $DURATION $common" ;;
    esac
}
