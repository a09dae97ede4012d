#!/usr/bin/env bash
# The hello benchmark on Restate, for side-by-side figures with chronicle-bench:
# one fresh restate-server (defaults: RocksDB with its WAL fsynced) per run, the
# workflow served by Restate's TypeScript SDK (bench/restate/hello.mjs), driven
# through the HTTP ingress by bench/restate/load.mjs, which prints one line in
# chronicle-bench's format (wf/s, p50/p99, server and client CPU per workflow).
#
# Env: RESTATE_DIR  where the npm packages are installed (default /var/tmp/chronicle-bench-restate)
#      RUNS         "C:N ..." (default "1:200 100:2000")
#      ROUNDS       repetitions of RUNS (default 1)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
RESTATE_DIR="${RESTATE_DIR:-/var/tmp/chronicle-bench-restate}"
RUNS="${RUNS:-1:200 100:2000}"
ROUNDS="${ROUNDS:-1}"

mkdir -p "$RESTATE_DIR"
cp "$HERE/restate/package.json" "$HERE/restate/hello.mjs" "$HERE/restate/load.mjs" "$RESTATE_DIR/"
if [ ! -x "$RESTATE_DIR/node_modules/.bin/restate-server" ]; then
    (cd "$RESTATE_DIR" && npm install --no-audit --no-fund --loglevel=error)
fi
SERVER_BIN="$(ls "$RESTATE_DIR"/node_modules/@restatedev/restate-server-linux-*/bin/restate-server | head -1)"

wait_port() { # port seconds
    for _ in $(seq 1 $(( $2 * 10 ))); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "restate.sh: port $1 did not open" >&2
    return 1
}

wait_http() { # url seconds
    for _ in $(seq 1 $(( $2 * 10 ))); do
        curl -sf -o /dev/null "$1" && return 0
        sleep 0.1
    done
    echo "restate.sh: $1 did not answer" >&2
    return 1
}

one_run() { # concurrency workflows
    local base pids=()
    base="$(mktemp -d /var/tmp/restate-bench-XXXXXX)"
    "$SERVER_BIN" --base-dir "$base" --no-logo --log-filter warn >"$base/server.log" 2>&1 &
    local server=$!
    pids+=("$server")
    wait_http http://127.0.0.1:9070/health 60
    PORT=9080 node "$RESTATE_DIR/hello.mjs" >"$base/service.log" 2>&1 &
    local service=$!
    pids+=("$service")
    wait_port 9080 30
    curl -sf -X POST http://127.0.0.1:9070/deployments -H 'content-type: application/json' \
        -d '{"uri":"http://127.0.0.1:9080"}' >/dev/null
    wait_http http://127.0.0.1:8080/restate/health 30 || true
    sleep 2
    SERVER_PID=$server SERVICE_PID=$service C="$1" N="$2" timeout 600 node "$RESTATE_DIR/load.mjs" || true
    kill "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
    rm -rf "$base"
}

for _ in $(seq 1 "$ROUNDS"); do
    for run in $RUNS; do
        one_run "${run%%:*}" "${run##*:}"
    done
done
