#!/usr/bin/env bash
# Runs every fuzz target (fuzz/, cargo fuzz on the nightly toolchain) for FUZZ_SECONDS each
# (default 600), one after another, then merges what each found into its committed corpus
# (fuzz/corpus/<target>, minimised). A crash stops that target's run and leaves the reproducer
# in fuzz/artifacts/<target>/; copy it to fuzz/regressions/<target>/ once fixed so that CI
# replays it (crates/kinesd/tests/fuzz_replay.rs).
#
# Usage: scripts/fuzz.sh [target...]      (default: every target)
# Needs: rustup's nightly toolchain and `cargo install cargo-fuzz`.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds=${FUZZ_SECONDS:-600}
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo +nightly fuzz list)
cargo +nightly fuzz build -O
for t in "${targets[@]}"; do
    echo "=== $t: ${seconds}s"
    mkdir -p "corpus/$t" "target/new-corpus/$t"
    status=0
    # New inputs go to a scratch directory; the committed corpus is read-only seed material.
    cargo +nightly fuzz run -O "$t" "target/new-corpus/$t" "corpus/$t" -- \
        -max_total_time="$seconds" -rss_limit_mb=4096 -timeout=20 -print_final_stats=1 || status=$?
    # Keep only inputs that add coverage: merge scratch + committed into a fresh minimal set.
    rm -rf "target/merged/$t" && mkdir -p "target/merged/$t"
    cargo +nightly fuzz run -O "$t" "target/merged/$t" "corpus/$t" "target/new-corpus/$t" -- -merge=1 >/dev/null 2>&1
    rm -rf "corpus/$t" && mv "target/merged/$t" "corpus/$t"
    echo "=== $t: exit $status, corpus $(ls "corpus/$t" | wc -l) inputs"
    [ "$status" -eq 0 ] || echo "=== $t FAILED: see fuzz/artifacts/$t"
done
