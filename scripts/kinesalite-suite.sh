#!/usr/bin/env bash
# Runs kinesalite's own mocha suite (test/*.js of mhart/kinesalite, recorded against production
# Kinesis) against kinesd, for docs/kinesalite-conformance.md.
#
# Usage: scripts/kinesalite-suite.sh /path/to/a/kinesalite/checkout [mocha args...]
# The checkout supplies test/ and db/ (the suite's helpers parse sequence numbers with db/);
# kinesalite's server is replaced by scripts/kinesalite/index.js, which starts kinesd on the
# port the suite picks. Packages are installed under target/kinesalite, never globally. The
# run is bounded by KINESALITE_TIMEOUT seconds (default 1800).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
src=${1:?usage: scripts/kinesalite-suite.sh /path/to/kinesalite [mocha args...]}
shift
[ -d "$src/test" ] && [ -d "$src/db" ] || { echo "no test/ and db/ in $src" >&2; exit 2; }
work=$root/target/kinesalite
rm -rf "$work/test" "$work/db"
mkdir -p "$work"
cp -r "$src/test" "$src/db" "$work/"
cp scripts/kinesalite/index.js scripts/kinesalite/package.json "$work/"
if [ ! -d "$work/node_modules/mocha" ]; then
    (cd "$work" && npm install --no-audit --no-fund --loglevel=error)
fi
cargo build --quiet --bin kinesd
export KINESD_BIN=$root/target/debug/kinesd
cd "$work"
timeout "${KINESALITE_TIMEOUT:-1800}" npx mocha --require should --reporter dot --timeout 400000 "$@" test/*.js
