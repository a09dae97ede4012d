"""Chronicle clusters for the tests: nodes started with `server start --cluster-port` on one
PostgreSQL database of their own, killed (SIGKILL), paused (SIGSTOP/SIGCONT) and described with
`chronicle cluster describe -o json`.

Each node gets fixed free loopback ports when it is made, so a restarted node finds its ports
again. A node made with `cluster=False` is a plain single `server start` on the same database
(no --cluster-port): what runs today, before the cluster side exists.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from conftest import READY_RE, STARTUP_TIMEOUT_S, PostgresDatabase, _chronicle_bin
from server_process import KILL_TIMEOUT_S, ServerProcess

SHARDS = 256
CLUSTER_READY_RE = re.compile(r"^Chronicle cluster listening on (127\.0\.0\.1:\d+)(?: as node (\S+))?\s*$")
DESCRIBE_TIMEOUT_S = 15.0
# How long a node just started may answer that it has not read the cluster yet.
NOT_READ_YET_S = 10.0


def postgres_base() -> str | None:
    """The PostgreSQL server the cluster tests use (postgres://USER@HOST:PORT), or None to skip:
    CHRONICLE_POSTGRES_URL, else the local default unless CHRONICLE_SKIP_POSTGRES=1."""
    url = os.environ.get("CHRONICLE_POSTGRES_URL", "").strip()
    if url:
        return url.rstrip("/")
    if os.environ.get("CHRONICLE_SKIP_POSTGRES") == "1":
        return None
    return "postgres://postgres@127.0.0.1:5432"


def free_ports(n: int) -> list[int]:
    """`n` distinct loopback ports free right now (all bound at once, then released)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


class ClusterNode(ServerProcess):
    """One `chronicle server start` process of a cluster, on fixed ports."""

    def __init__(
        self,
        label: str,
        binary: Path,
        database_url: str,
        cwd: Path,
        *,
        cluster: bool = True,
        extra_args: list[str] | None = None,
    ) -> None:
        super().__init__(label, stop_timeout_s=10.0)
        self.binary = binary
        self.database_url = database_url
        self.cwd = cwd
        ports = free_ports(2 if cluster else 1)
        self.port = ports[0]
        self.cluster_port: int | None = ports[1] if cluster else None
        self.extra_args = list(extra_args or [])
        # The id the node gave itself (the ready line's "as node ID"; `describe` is authoritative).
        self.node_id: str | None = None
        self.cluster_address: str | None = None
        self.killed = False
        self.stopped = False
        self.paused = False
        self._ready = threading.Event()
        self._cluster_ready = threading.Event()
        self._ready_address = ""
        self.cmd: list[str] = []

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        cmd = [
            str(self.binary),
            "server",
            "start",
            "--database-url",
            self.database_url,
            "--port",
            str(self.port),
        ]
        if self.cluster_port is not None:
            cmd += ["--cluster-port", str(self.cluster_port)]
        return cmd + ["--log-level", "warn", *self.extra_args]

    def spawn_node(self) -> None:
        """Start the process without waiting for it (see `wait_ready`)."""
        self._ready.clear()
        self._cluster_ready.clear()
        self.killed = False
        self.stopped = False
        self.paused = False
        self.cmd = self.command()
        self.output.append(f"--- {self.label} started: {' '.join(self.cmd)}")
        self.spawn(self.cmd, cwd=self.cwd, on_stdout_line=self._watch_stdout)

    def wait_ready(self, timeout_s: float = STARTUP_TIMEOUT_S) -> None:
        """Wait for the gRPC ready line (and the cluster one, for a cluster node)."""
        assert self.proc is not None
        deadline = time.monotonic() + timeout_s
        while not (self._ready.is_set() and (self.cluster_port is None or self._cluster_ready.is_set())):
            if self.proc.poll() is not None:
                self.join_drains(timeout=1)
                raise RuntimeError(
                    f"{self.label} exited with code {self.proc.returncode} before it was ready\n"
                    f"command: {' '.join(self.cmd)}\n{self.tail()}"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(
                    f"{self.label} did not print its ready lines within {timeout_s:.0f}s\n"
                    f"command: {' '.join(self.cmd)}\n{self.tail()}"
                )
            time.sleep(0.05)
        ready_port = self._ready_address.rsplit(":", 1)[1]
        if int(ready_port) != self.port:
            raise RuntimeError(f"{self.label} listens on {self._ready_address}, asked for port {self.port}")

    def start(self) -> str:
        self.spawn_node()
        self.wait_ready()
        return self.address

    def _watch_stdout(self, line: str) -> None:
        m = CLUSTER_READY_RE.match(line)
        if m:
            self.cluster_address = m.group(1)
            if m.group(2):
                self.node_id = m.group(2)
            self._cluster_ready.set()
            return
        m = READY_RE.match(line)
        if m:
            self._ready_address = m.group(1)
            self._ready.set()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """`kill -9`: no word to anyone."""
        assert self.proc is not None
        self.killed = True
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=KILL_TIMEOUT_S)
        self.output.append(f"--- {self.label} killed (SIGKILL)")

    def pause(self) -> None:
        assert self.proc is not None
        self.paused = True
        self.proc.send_signal(signal.SIGSTOP)
        self.output.append(f"--- {self.label} paused (SIGSTOP)")

    def resume(self) -> None:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
        self.paused = False
        self.output.append(f"--- {self.label} resumed (SIGCONT)")

    def stop(self) -> None:
        # A stopped process would keep SIGTERM pending: continue it first.
        if self.paused:
            self.resume()
        self.stopped = True
        super().stop()


class Cluster:
    """Nodes sharing one PostgreSQL database of their own (dropped by `close`)."""

    def __init__(self, base: str, size: int, cwd: Path, *, cluster: bool = True, extra_args: list[str] | None = None):
        self.binary = _chronicle_bin()
        if not self.binary.exists():
            raise RuntimeError(f"chronicle binary not found at {self.binary}; build it or set CHRONICLE_BIN")
        self.cwd = cwd
        self.cluster = cluster
        self.extra_args = list(extra_args or [])
        self.db: PostgresDatabase | None = PostgresDatabase(base)
        self.nodes: list[ClusterNode] = []
        # When the first nodes were started (time.monotonic()).
        self.started_at: float | None = None
        for _ in range(size):
            self.add_node()

    def add_node(self) -> ClusterNode:
        """A new node (not started) on the cluster's database, named node1, node2, ..."""
        assert self.db is not None
        node = ClusterNode(
            f"node{len(self.nodes) + 1}",
            self.binary,
            self.db.url,
            self.cwd,
            cluster=self.cluster,
            extra_args=self.extra_args,
        )
        self.nodes.append(node)
        return node

    def start(self, nodes: list[ClusterNode] | None = None) -> None:
        """Start the given nodes (default: all) together and wait until each is ready."""
        nodes = self.nodes if nodes is None else nodes
        if self.started_at is None:
            self.started_at = time.monotonic()
        for node in nodes:
            node.spawn_node()
        for node in nodes:
            node.wait_ready()

    # --- describe ----------------------------------------------------------------------------

    def cli(self, *args: str, timeout_s: float = DESCRIBE_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.binary), *args],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            stdin=subprocess.DEVNULL,
        )

    def describe(self, via: ClusterNode) -> dict[str, Any]:
        """`chronicle cluster describe -o json` through `via` (never a paused node: it would hang).
        A node that has just opened its port answers UNAVAILABLE until its first membership round
        has read the cluster: asked again for a few seconds, as the error says."""
        deadline = time.monotonic() + NOT_READ_YET_S
        while True:
            out = self.cli("cluster", "describe", "--address", via.address, "-o", "json")
            if out.returncode == 0:
                return json.loads(out.stdout)
            if "not read the cluster yet" not in out.stderr or time.monotonic() > deadline:
                raise RuntimeError(
                    f"cluster describe via {via.label} failed ({out.returncode}):\n{out.stdout}{out.stderr}"
                )
            time.sleep(0.1)

    def learn_node_ids(self, nodes: list[ClusterNode] | None = None) -> None:
        """Each node's id, as it names itself in `describe` (the top-level nodeId)."""
        for node in self.nodes if nodes is None else nodes:
            node.node_id = self.describe(node)["nodeId"]

    # --- reports -----------------------------------------------------------------------------

    def tails(self, n: int = 60) -> str:
        return "\n".join(node.tail(n) for node in self.nodes)

    def unexpected_exits(self) -> list[str]:
        """Nodes that exited although the test neither killed nor stopped them."""
        return [
            f"{node.label} exited with code {node.proc.returncode} (not by this test)"
            for node in self.nodes
            if node.proc is not None and node.proc.poll() is not None and not node.killed and not node.stopped
        ]

    def close(self) -> None:
        """Stop every node, report any that died on its own, drop the database."""
        for node in self.nodes:
            died = node.proc is not None and node.proc.poll() is not None and not node.killed and not node.stopped
            node.stop()
            if died:
                print(
                    f"\n{node.label} exited during the test (code {node.proc.returncode})\n{node.tail()}",
                    flush=True,
                )
        if self.db is not None:
            self.db.drop()
            self.db = None


# --- reading a describe view --------------------------------------------------------------------


def owners(view: dict[str, Any]) -> Counter[str]:
    """Shards per owner, counting only shards with an owner and a lease not run out."""
    counts: Counter[str] = Counter()
    for shard in view["shards"]:
        if shard.get("owner") and shard.get("leaseLeftMs", 1) > 0:
            counts[shard["owner"]] += 1
    return counts


def live_nodes(view: dict[str, Any]) -> set[str]:
    return {n["nodeId"] for n in view["nodes"] if n["live"]}


def summary(view: dict[str, Any]) -> str:
    """One line for failure messages: who is live, who owns how many shards."""
    nodes = ", ".join(
        f"{n['nodeId']}(live={n['live']}, shards={n['shards']}, hb={n['heartbeatAgeMs']}ms)" for n in view["nodes"]
    )
    own = owners(view)
    unowned = len(view["shards"]) - sum(own.values())
    return f"seen from {view['nodeId']}: nodes [{nodes}]; owners {dict(own)}; {unowned} without a live owner"


# --- a cluster for other suites -----------------------------------------------------------------


def serve(size: int, address_file: Path, extra_args: list[str]) -> None:
    """Starts a cluster of `size` nodes, waits until every shard has a live holder, writes the
    nodes' client addresses to `address_file` (one per line) and serves until SIGTERM or SIGINT:
    `scripts/test.sh` runs the SDK suites against it (CHRONICLE_ADDRESS = every node, taken in
    turn, so most calls are forwarded to another node)."""
    import tempfile

    base = postgres_base()
    if base is None:
        raise SystemExit("no PostgreSQL server (CHRONICLE_POSTGRES_URL)")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    with tempfile.TemporaryDirectory(prefix="chronicle-cluster-") as tmp:
        cluster = Cluster(base, size, Path(tmp), extra_args=extra_args)
        try:
            cluster.start()
            deadline = time.monotonic() + 60
            while True:
                view = cluster.describe(cluster.nodes[0])
                own = owners(view)
                if len(own) == size and sum(own.values()) == SHARDS and len(live_nodes(view)) == size:
                    break
                if time.monotonic() > deadline:
                    raise SystemExit(f"the cluster did not settle: {summary(view)}")
                time.sleep(0.2)
            print(summary(view), flush=True)
            address_file.write_text("".join(f"{node.address}\n" for node in cluster.nodes))
            while not stop.wait(1):
                if cluster.unexpected_exits():
                    raise SystemExit("; ".join(cluster.unexpected_exits()) + "\n" + cluster.tails())
        finally:
            cluster.close()
            # The nodes log warnings only: what they said is what a failed
            # suite's reader needs next to its traceback.
            print(cluster.tails(40), flush=True)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=serve.__doc__)
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--address-file", type=Path, required=True)
    parser.add_argument("--server-arg", action="append", default=[], help="an extra `server start` argument")
    args = parser.parse_args()
    serve(args.nodes, args.address_file, args.server_arg)
