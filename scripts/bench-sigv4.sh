#!/usr/bin/env bash
# The cost of SigV4 verification: one kinesd binary with and without --credentials, the load
# generator signing every request for real in both (so only the server's verification differs),
# in bench-ab.sh's interleaved rounds. A = no verification, B = verification.
#
#   scripts/bench-sigv4.sh [BINARY]        default target/release/kinesd
#   AB_ROUNDS / AB_DURATION / AB_WORKLOADS as for bench-ab.sh (default workload: put-100)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$(realpath "${1:-target/release/kinesd}")
WORK=$(mktemp -d "${TMPDIR:-/tmp}/kinesd-sigv4.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
KEY=AKIAKINESDBENCH00000
SECRET=kinesd-bench/secret+key
cat > "$WORK/credentials.toml" << TOML
[[credential]]
access_key_id = "$KEY"
secret_access_key = "$SECRET"
account_id = "000000000000"
TOML
cat > "$WORK/kinesd-verifying" << SH
#!/bin/sh
exec "$BIN" --credentials "$WORK/credentials.toml" "\$@"
SH
chmod +x "$WORK/kinesd-verifying"
AB_WORKLOADS=${AB_WORKLOADS:-put-100} AB_BENCH_ARGS="--access-key $KEY --secret-key $SECRET --region us-east-1" \
    scripts/bench-ab.sh "$BIN" "$WORK/kinesd-verifying"
