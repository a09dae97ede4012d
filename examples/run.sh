#!/usr/bin/env bash
# Runs the pattern examples (Python, then Rust) against a running server:
#
#   chronicle server start-dev            # in another terminal (or any Temporal frontend)
#   examples/run.sh [ADDRESS]             # ADDRESS defaults to 127.0.0.1:7233
#
# Environment: CHRONICLE_VENV (Python venv with temporalio; default /var/tmp/chronicle-venv),
# CARGO_TARGET_DIR (as for any cargo build). Exits non-zero if any example fails.
set -euo pipefail

ADDRESS="${1:-127.0.0.1:7233}"
EXAMPLES="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="${CHRONICLE_VENV:-/var/tmp/chronicle-venv}"
PY="$VENV/bin/python"
if [ ! -x "$PY" ]; then
    echo "no Python venv at $VENV: create one with 'python3 -m venv $VENV && $VENV/bin/pip install temporalio'" >&2
    echo "(or run ./scripts/test.sh once, which creates it), or set CHRONICLE_VENV" >&2
    exit 1
fi

rc=0
echo "### Python examples ($ADDRESS)"
"$PY" "$EXAMPLES/python/run_all.py" --address "$ADDRESS" || rc=1

echo
echo "### Rust examples ($ADDRESS)"
(cd "$EXAMPLES/.." && cargo run --quiet -p chronicle-examples -- --address "$ADDRESS") || rc=1

exit "$rc"
