#!/usr/bin/env bash
# The cost of TLS, metrics and traces on the hello benchmark: Chronicle
# plain, with TLS (--tls-cert/--tls-key, the SDK connecting over TLS), with
# metrics (--metrics-port) and with traces (--otlp-endpoint, every span
# exported to bench/otlp_sink.py), side by side at C=1 and C=100, ROUNDS
# rounds interleaved so machine noise spreads over all four. Prints
# chronicle-bench's result line for each run.
#
#   CHRONICLE_VENV     Python with grpcio for the sink (default
#                      /var/tmp/chronicle-venv, as scripts/test.sh makes it)
#   CARGO_TARGET_DIR   release target dir (default /var/tmp/chronicle-release-target)
#   ROUNDS             rounds (default 3)
#   N_SERIAL N_PARALLEL workflows at C=1 / C=100 (default 200 / 2000)
#   SKIP_BUILD=1       use the binaries as built
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/chronicle-release-target}"
ROUNDS="${ROUNDS:-3}"
N_SERIAL="${N_SERIAL:-200}"
N_PARALLEL="${N_PARALLEL:-2000}"
if [ "${SKIP_BUILD:-0}" != "1" ]; then
    (cd "$REPO_ROOT/bench" && cargo build --release)
    (cd "$REPO_ROOT" && cargo build --release -p chronicle)
fi
BENCH="$CARGO_TARGET_DIR/release/chronicle-bench"
CHRONICLE="$CARGO_TARGET_DIR/release/chronicle"
WORK="$(mktemp -d)"
SINK_PORT="${SINK_PORT:-14317}"
"${CHRONICLE_VENV:-/var/tmp/chronicle-venv}/bin/python" "$REPO_ROOT/bench/otlp_sink.py" "$SINK_PORT" >"$WORK/sink.log" &
SINK=$!
trap 'kill $SINK 2>/dev/null; wait $SINK 2>/dev/null; cat "$WORK/sink.log"; rm -rf "$WORK"' EXIT

# A CA and a certificate for localhost, as a deployment would have.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$WORK/ca.key" \
    -out "$WORK/ca.pem" -days 2 -subj "/CN=bench CA" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$WORK/server.key" \
    -out "$WORK/server.csr" -subj "/CN=localhost" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$WORK/san.ext"
openssl x509 -req -in "$WORK/server.csr" -CA "$WORK/ca.pem" -CAkey "$WORK/ca.key" -CAcreateserial \
    -out "$WORK/server.pem" -days 2 -extfile "$WORK/san.ext" 2>/dev/null

run() { # label C N extra-args...
    local label="$1" c="$2" n="$3"
    shift 3
    local line
    line="$("$BENCH" --server chronicle --chronicle-bin "$CHRONICLE" --workflows "$n" --concurrency "$c" \
        --db-file "$WORK/bench.db" "$@" 2>"$WORK/bench.log")" || { tail -5 "$WORK/bench.log"; return 1; }
    echo "$label $line"
}

for round in $(seq "$ROUNDS"); do
    for c in 1 100; do
        n=$([ "$c" = 1 ] && echo "$N_SERIAL" || echo "$N_PARALLEL")
        run "round=$round plain" "$c" "$n"
        run "round=$round tls" "$c" "$n" --tls-ca "$WORK/ca.pem" \
            --server-arg=--tls-cert --server-arg="$WORK/server.pem" \
            --server-arg=--tls-key --server-arg="$WORK/server.key"
        run "round=$round metrics" "$c" "$n" --server-arg=--metrics-port --server-arg=0
        run "round=$round traces" "$c" "$n" --server-arg=--otlp-endpoint --server-arg="http://127.0.0.1:$SINK_PORT"
    done
done
