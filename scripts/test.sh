#!/usr/bin/env bash
# Chronicle's test command: first the fast tier (rustfmt, clippy with
# warnings as errors), then all Rust tests (unit, integration, SDK
# end-to-end), then the Python and TypeScript SDK end-to-end tests against a
# freshly built server. Nothing to install but a Rust toolchain: the protos
# build with a pure-Rust protobuf compiler.
#
# Works on a fresh Debian machine as root with a Rust toolchain installed.
# Environment:
#   CARGO_TARGET_DIR  cargo target dir        (default /var/tmp/chronicle-target)
#   CHRONICLE_VENV    Python venv for pytest  (default /var/tmp/chronicle-venv)
#   PYTHON            interpreter for the venv (default python3)
#   CHRONICLE_POSTGRES_URL  PostgreSQL server for the PostgreSQL passes
#                     (default postgres://postgres@127.0.0.1:5432; installed and
#                     started with apt-get when nothing answers there)
#   CHRONICLE_SKIP_POSTGRES=1  skip the PostgreSQL passes
# Extra arguments are passed to pytest (e.g. ./scripts/test.sh -k hello).
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/chronicle-target}"
CHRONICLE_VENV="${CHRONICLE_VENV:-/var/tmp/chronicle-venv}"
PYTHON="${PYTHON:-python3}"
REQUIREMENTS="tests/python/requirements.txt"
export DEBIAN_FRONTEND=noninteractive PIP_NO_INPUT=1 PIP_DISABLE_PIP_VERSION_CHECK=1
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

SCRIPT_START=$SECONDS
section() {
    printf '\n==============================================================\n'
    printf '== %s  (t+%ds)\n' "$*" "$((SECONDS - SCRIPT_START))"
    printf '==============================================================\n'
}
die() {
    printf '\nERROR: %s\n' "$*" >&2
    exit 1
}

SUDO=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
fi
APT_UPDATED=0
apt_install() {
    command -v apt-get >/dev/null 2>&1 || die "apt-get not found; please install: $*"
    if [ "$APT_UPDATED" -eq 0 ]; then
        $SUDO apt-get update
        APT_UPDATED=1
    fi
    $SUDO apt-get install -y --no-install-recommends "$@"
}

# ---------------------------------------------------------------------------
section "Prerequisites"
if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
fi
command -v cargo >/dev/null 2>&1 || die "cargo not found: install a Rust toolchain (https://rustup.rs)"
# The TLS tests make their certificates with the openssl CLI.
command -v openssl >/dev/null 2>&1 || apt_install openssl
cargo --version

if ! command -v "$PYTHON" >/dev/null 2>&1; then
    echo "$PYTHON not found: installing python3 via apt-get"
    apt_install python3 python3-venv
    PYTHON=python3
fi
"$PYTHON" --version
echo "CARGO_TARGET_DIR=$CARGO_TARGET_DIR"
echo "CHRONICLE_VENV=$CHRONICLE_VENV"

# ---------------------------------------------------------------------------
section "Fast tier: cargo fmt --check, cargo clippy -D warnings"
for component in rustfmt clippy; do
    if ! cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1; then
        command -v rustup >/dev/null 2>&1 || die "cargo $component missing and no rustup to install it"
        rustup component add "$component"
    fi
done
cargo fmt --all --check || die "cargo fmt --check: run 'cargo fmt' and commit"
cargo clippy --workspace --all-targets -- -D warnings

# ---------------------------------------------------------------------------
section "Python venv ($CHRONICLE_VENV)"
VENV_PY="$CHRONICLE_VENV/bin/python"
# A venv whose interpreter no longer runs (e.g. its base Python was removed) is rebuilt.
if [ -e "$CHRONICLE_VENV" ] && ! "$VENV_PY" -c 'import sys' >/dev/null 2>&1; then
    echo "existing venv is broken: recreating it"
    rm -rf "$CHRONICLE_VENV"
fi
if [ ! -x "$VENV_PY" ]; then
    if ! "$PYTHON" -m venv "$CHRONICLE_VENV"; then
        echo "python venv/ensurepip unavailable: installing python3-venv via apt-get"
        rm -rf "$CHRONICLE_VENV"
        apt_install python3-venv python3-pip
        "$PYTHON" -m venv "$CHRONICLE_VENV"
    fi
fi
"$VENV_PY" --version

STAMP="$CHRONICLE_VENV/.chronicle-requirements.sha256"
WANT_STAMP="$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1) $("$VENV_PY" -c 'import sys; print(sys.version.split()[0])')"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT_STAMP" ] &&
    "$VENV_PY" -c 'import temporalio, pytest, pytest_asyncio' >/dev/null 2>&1; then
    echo "requirements already satisfied (stamp matches $REQUIREMENTS): skipping pip install"
else
    rm -f "$STAMP"
    "$VENV_PY" -m pip install --quiet -r "$REQUIREMENTS"
    echo "$WANT_STAMP" >"$STAMP"
fi
"$VENV_PY" -m pip list 2>/dev/null | grep -iE '^(temporalio|pytest|pytest-asyncio) ' || true

# The web UI's browser test drives Debian's Chromium (through Playwright,
# which is told where it is and never downloads one).
if ! command -v chromium >/dev/null 2>&1; then
    echo "chromium not found: installing it via apt-get (the web UI's browser test)"
    apt_install chromium
fi
export CHRONICLE_CHROMIUM="${CHRONICLE_CHROMIUM:-$(command -v chromium)}"

# ---------------------------------------------------------------------------
section "PostgreSQL"
# The store conformance suite, and a second pass of the Rust and Python SDK
# suites, run on a real PostgreSQL; each test makes a database of its own.
CHRONICLE_POSTGRES_URL="${CHRONICLE_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432}"
pg_ready() { psql "$CHRONICLE_POSTGRES_URL/postgres" -qtAc 'SELECT 1' >/dev/null 2>&1; }
as_postgres() {
    if [ "$(id -u)" -eq 0 ]; then su postgres -c "$*"; else sudo -u postgres sh -c "$*"; fi
}
if [ "${CHRONICLE_SKIP_POSTGRES:-0}" = "1" ]; then
    echo "CHRONICLE_SKIP_POSTGRES=1: the PostgreSQL passes are skipped"
    unset CHRONICLE_POSTGRES_URL
    export CHRONICLE_SKIP_POSTGRES
else
    command -v psql >/dev/null 2>&1 || apt_install postgresql-client
    if ! pg_ready; then
        echo "no PostgreSQL answers at $CHRONICLE_POSTGRES_URL: installing/starting one"
        ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || apt_install postgresql
        command -v pg_ctlcluster >/dev/null 2>&1 || die "pg_ctlcluster not found after installing postgresql"
        for cluster in $(pg_lsclusters -h | awk '{print $1"/"$2}'); do
            pg_ctlcluster "${cluster%/*}" "${cluster#*/}" start 2>/dev/null || true
        done
        for _ in $(seq 1 30); do
            as_postgres "psql -qtAc 'SELECT 1'" >/dev/null 2>&1 && break
            sleep 1
        done
        # A packaged server asks for a password over TCP: give the test user one.
        if ! pg_ready; then
            as_postgres "psql -qc \"ALTER USER postgres PASSWORD 'chronicle'\"" ||
                die "cannot reach PostgreSQL as user postgres"
            CHRONICLE_POSTGRES_URL="postgres://postgres:chronicle@127.0.0.1:5432"
        fi
        pg_ready || die "PostgreSQL does not answer at $CHRONICLE_POSTGRES_URL"
    fi
    psql "$CHRONICLE_POSTGRES_URL/postgres" -qtAc 'SELECT version()'
    export CHRONICLE_POSTGRES_URL
    # The store conformance suite makes its databases through this one.
    export CHRONICLE_TEST_POSTGRES_URL="$CHRONICLE_POSTGRES_URL/postgres"
fi

# A 3-node cluster (tests/python/cluster_process.py) on a PostgreSQL
# database of its own, for the suites that can run against any server: the
# nodes' addresses, comma-separated, in CLUSTER_ADDRESS (the suites take
# them in turn, so their clients and workers are spread over the nodes).
# Arguments go to every node.
start_cluster() {
    CLUSTER_ADDRESSES="$(mktemp)"
    rm -f "$CLUSTER_ADDRESSES"
    (cd tests/python && exec "$VENV_PY" cluster_process.py --nodes 3 --address-file "$CLUSTER_ADDRESSES" "$@") &
    CLUSTER_PID=$!
    for _ in $(seq 120); do
        [ -s "$CLUSTER_ADDRESSES" ] && break
        kill -0 "$CLUSTER_PID" 2>/dev/null || die "the 3-node cluster did not start"
        sleep 0.5
    done
    [ -s "$CLUSTER_ADDRESSES" ] || die "the 3-node cluster did not settle within 60 s"
    CLUSTER_ADDRESS="$(paste -sd, "$CLUSTER_ADDRESSES")"
}
stop_cluster() {
    kill "$CLUSTER_PID" 2>/dev/null || true
    wait "$CLUSTER_PID" 2>/dev/null || true
    rm -f "$CLUSTER_ADDRESSES"
}

# ---------------------------------------------------------------------------
section "Rust: cargo test --workspace"
cargo test --workspace

# ---------------------------------------------------------------------------
section "Rust: cargo build --workspace --all-targets"
# With every target selected, features resolve as for `cargo test
# --workspace` above, so its binaries are reused (only the examples' binary
# is new); `cargo build -p chronicle` alone would build the workspace again.
cargo build --workspace --all-targets
export CHRONICLE_BIN="$CARGO_TARGET_DIR/debug/chronicle"
[ -x "$CHRONICLE_BIN" ] || die "built binary not found at $CHRONICLE_BIN"
echo "CHRONICLE_BIN=$CHRONICLE_BIN"
export CHRONICLE_EXAMPLES_BIN="$CARGO_TARGET_DIR/debug/chronicle-examples"

# ---------------------------------------------------------------------------
section "Python SDK end-to-end: pytest tests/python"
# CHRONICLE_ADDRESS would make the tests skip starting the built server.
unset CHRONICLE_ADDRESS
pytest_rc=0
"$VENV_PY" -m pytest tests/python -v "$@" || pytest_rc=$?
case "$pytest_rc" in
    0) ;;
    5) die "pytest collected no tests (exit 5): treating as a failure" ;;
    *) die "pytest failed (exit $pytest_rc)" ;;
esac

# ---------------------------------------------------------------------------
if [ -n "${CHRONICLE_POSTGRES_URL:-}" ]; then
    section "Rust gRPC API tests on PostgreSQL"
    # --workspace: the features of the first pass, so nothing is rebuilt.
    CHRONICLE_TEST_POSTGRES="$CHRONICLE_POSTGRES_URL" cargo test --workspace --test grpc_api

    section "Rust SDK end-to-end on a 3-node cluster"
    # Every TestServer is 3 nodes on one PostgreSQL database (so this is
    # also the suite's PostgreSQL pass); its clients and workers take the
    # nodes in turn, so most calls are forwarded, and a crash test kills
    # them all.
    CHRONICLE_TEST_POSTGRES="$CHRONICLE_POSTGRES_URL" CHRONICLE_TEST_CLUSTER_NODES=3 \
        cargo test --workspace --test sdk_e2e

    # The suites that need no server of their own run against a 3-node
    # cluster, on PostgreSQL; the rest run on one node on PostgreSQL. In
    # the first pass's order: CPython 3.11 can fail the SDK's workflow
    # sandbox validation ("AST constructor recursion depth mismatch") when
    # some of these modules run before others.
    CLUSTER_MODULES=(
        test_activities_more.py test_children.py test_cron.py test_dynamic.py test_eager_activities.py
        test_external.py test_hello.py test_parity.py test_queries.py test_schedules.py test_signals.py
        test_task_queues.py test_updates.py test_visibility.py test_reset.py test_activity_control.py
        test_standalone_activities.py test_worker_deployments.py
    )
    section "Python SDK end-to-end on PostgreSQL"
    # Not here: the suites that start servers of their own, never on this
    # backend, and the differential test (the histories it compares are the
    # history engine's, the same on every backend), which ran in the first
    # pass; the cluster's modules, which run on PostgreSQL below.
    ignored=(test_time_skipping.py test_ephemeral_server.py test_metrics.py test_server_config.py
        test_security.py test_traces.py test_differential.py "${CLUSTER_MODULES[@]}")
    pytest_rc=0
    CHRONICLE_TEST_POSTGRES="$CHRONICLE_POSTGRES_URL" "$VENV_PY" -m pytest tests/python -q \
        "${ignored[@]/#/--ignore=tests/python/}" "$@" || pytest_rc=$?
    [ "$pytest_rc" -eq 0 ] || die "pytest on PostgreSQL failed (exit $pytest_rc)"

    section "Python SDK end-to-end on a 3-node cluster"
    # Each module and each client on the next node: two thirds of their
    # calls are forwarded to another node, and their polls meet tasks of
    # runs held elsewhere. (The cluster's own tests,
    # tests/python/test_cluster.py, ran in the first pass.)
    # The worker deployment tests' drainage and poller timings (as their module's server gets them).
    deployment_timings=()
    for flag in 'matching.wv.VersionDrainageStatusVisibilityGracePeriod="1s"' \
        'matching.wv.VersionDrainageStatusRefreshInterval="1s"' 'matching.PollerHistoryTTL="1s"'; do
        deployment_timings+=(--server-arg=--dynamic-config-value "--server-arg=$flag")
    done
    start_cluster --server-arg=--search-attribute --server-arg=CustomKeywordField=Keyword "${deployment_timings[@]}"
    pytest_rc=0
    CHRONICLE_ADDRESS="$CLUSTER_ADDRESS" "$VENV_PY" -m pytest -q \
        "${CLUSTER_MODULES[@]/#/tests/python/}" "$@" || pytest_rc=$?
    stop_cluster
    [ "$pytest_rc" -eq 0 ] || die "pytest on a 3-node cluster failed (exit $pytest_rc)"
fi

# ---------------------------------------------------------------------------
section "TypeScript SDK end-to-end: tests/typescript"
# The suite starts $CHRONICLE_BIN itself (CHRONICLE_ADDRESS, unset above, would
# point it at a running server instead). node_modules lives in tests/typescript;
# `npm ci` is skipped while the stamp matches package-lock.json and Node's version.
TS_DIR="tests/typescript"
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "node/npm not found: installing nodejs npm via apt-get"
    apt_install nodejs npm
fi
echo "node $(node --version), npm $(npm --version)"
node -e 'const [maj, min] = process.versions.node.split(".").map(Number); process.exit(maj > 20 || (maj === 20 && min >= 3) ? 0 : 1)' ||
    die "the Temporal TypeScript SDK needs Node.js >= 20.3, found $(node --version)"
TS_STAMP="$TS_DIR/node_modules/.chronicle-package-lock.sha256"
TS_WANT_STAMP="$(sha256sum "$TS_DIR/package-lock.json" | cut -d' ' -f1) $(node --version)"
if [ -f "$TS_STAMP" ] && [ "$(cat "$TS_STAMP")" = "$TS_WANT_STAMP" ]; then
    echo "node_modules up to date (stamp matches $TS_DIR/package-lock.json): skipping npm ci"
else
    rm -f "$TS_STAMP"
    (cd "$TS_DIR" && npm ci --no-audit --no-fund)
    echo "$TS_WANT_STAMP" >"$TS_STAMP"
fi
(cd "$TS_DIR" && npm test) || die "TypeScript SDK tests failed"

if [ -n "${CHRONICLE_POSTGRES_URL:-}" ]; then
    section "TypeScript SDK end-to-end on a 3-node cluster"
    # The tests that need no server of their own; the rest skip themselves.
    start_cluster
    ts_rc=0
    (cd "$TS_DIR" && CHRONICLE_ADDRESS="$CLUSTER_ADDRESS" npm test) || ts_rc=$?
    stop_cluster
    [ "$ts_rc" -eq 0 ] || die "TypeScript SDK tests on a 3-node cluster failed (exit $ts_rc)"
fi

section "All tests passed"
