"""A cluster of Chronicle nodes on one PostgreSQL database, through the Python SDK.

Nodes run `server start --cluster-port` (cluster_process.py) and split 256 shards by leases.
Clients and workers connect to different nodes (any node takes any call and forwards it to the
shard's owner); a node is killed with SIGKILL, paused with SIGSTOP past its lease, or joins in
the middle of the load, and every workflow the server acknowledged must still complete exactly
once with the right result.

PostgreSQL: CHRONICLE_POSTGRES_URL (postgres://USER@HOST:PORT), else postgres://postgres@127.0.0.1:5432
unless CHRONICLE_SKIP_POSTGRES=1 (then the module is skipped); each cluster makes a database of
its own and drops it. The module is skipped in the PostgreSQL pass of scripts/test.sh
(CHRONICLE_TEST_POSTGRES set): it ran in the first pass already.

Clients connect with a retry budget of 30 s (the SDK's default is 10 s): calls to a shard that
moves answer UNAVAILABLE for up to about 6 s and are retried by the SDK.

Times on 2 cores with a debug build: describe ~3 s and spread ~4 s (one shared cluster), kill
~25-40 s, pause ~30 s, join ~20 s; the module ~100 s. Each test body is bounded (60-150 s) and a
failure prints every node's output tail.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import tempfile
import time
import uuid
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any, Awaitable, Callable, Iterator, TypeVar

from temporalio import activity, workflow

with workflow.unsafe.imports_passed_through():
    import pytest
    from temporalio.api.enums.v1 import EventType, TimeoutType
    from temporalio.client import Client, WorkflowExecutionStatus
    from temporalio.exceptions import WorkflowAlreadyStartedError
    from temporalio.service import RetryConfig
    from temporalio.worker import Worker

    from cluster_process import (
        DESCRIBE_TIMEOUT_S,
        SHARDS,
        Cluster,
        ClusterNode,
        free_ports,
        live_nodes,
        owners,
        postgres_base,
        summary,
    )
    from conftest import _chronicle_bin

POSTGRES = postgres_base()

pytestmark = [
    pytest.mark.skipif(
        bool(os.environ.get("CHRONICLE_TEST_POSTGRES")),
        reason="the cluster tests make PostgreSQL databases of their own: they ran in the first pass",
    ),
    pytest.mark.skipif(POSTGRES is None, reason="CHRONICLE_SKIP_POSTGRES=1: a cluster needs PostgreSQL"),
]

NAMESPACE = "default"
# Calls to a moving shard answer UNAVAILABLE for a few seconds: retry them for up to 30 s.
RETRY = RetryConfig(max_interval_millis=2000, max_elapsed_time_millis=30_000, max_retries=100)
ACTIVITY_TIMEOUT = timedelta(seconds=10)
ACTIVITY_SLEEP_S = 0.2  # keeps activities in flight when a node goes away
DESCRIBE_POLL_S = 0.25

# Startup: all nodes live and every shard owned, within one of an even share give or take.
SETTLE_S = 20.0
EVEN_LO, EVEN_HI = 60, 110

SPREAD_WORKFLOWS = 30
SPREAD_TIMEOUT_S = 90.0

KILL_LOAD = 200
KILL_AFTER_S = 2.5  # after the load begins
FAILOVER_S = 10.0  # the killed node's shards are owned by the others within this
KILL_COMPLETE_S = 60.0  # every acknowledged workflow completes within this of the kill
KILL_TIMEOUT_S = 150.0

PAUSE_LOAD = 100
PAUSE_AFTER_S = 2.0
PAUSE_S = 10.0
REJOIN_S = 15.0
PAUSE_COMPLETE_S = 60.0  # after the node is resumed
PAUSE_TIMEOUT_S = 150.0

JOIN_LOAD = 100
JOIN_AFTER_S = 2.0
JOIN_SETTLE_S = 15.0
JOIN_COMPLETE_S = 60.0  # after the node joined
JOIN_TIMEOUT_S = 150.0

T = TypeVar("T")


# --- activities and workflows ---------------------------------------------------------------------

# Executions of each activity task (workflow id, run id, activity id) in this process: at least
# once is the contract, so a task run twice is reported, not failed.
EXECUTIONS: Counter[tuple[str, str, str]] = Counter()


@activity.defn
async def add(a: int, b: int) -> int:
    info = activity.info()
    EXECUTIONS[(info.workflow_id or "", info.workflow_run_id or "", info.activity_id)] += 1
    await asyncio.sleep(ACTIVITY_SLEEP_S)
    return a + b


@workflow.defn(sandboxed=False)
class SpreadChild:
    @workflow.run
    async def run(self, n: int) -> int:
        return await workflow.execute_activity(add, args=[10 * n, 1], start_to_close_timeout=ACTIVITY_TIMEOUT)


@workflow.defn(sandboxed=False)
class SpreadWorkflow:
    """Activity, timer, child; then waits for a signal and an update; continues as new once,
    and the new run runs one more activity. Result: 12n + 1103 (signal 100+n, update 1000+n)."""

    def __init__(self) -> None:
        self.state = "started"
        self.released: int | None = None
        self.bumped: int | None = None

    @workflow.run
    async def run(self, n: int, carried: int | None = None) -> int:
        if carried is not None:
            self.state = "continued"
            return await workflow.execute_activity(add, args=[carried, 1], start_to_close_timeout=ACTIVITY_TIMEOUT)
        a = await workflow.execute_activity(add, args=[n, 1], start_to_close_timeout=ACTIVITY_TIMEOUT)
        self.state = "timer"
        await asyncio.sleep(0.5)
        self.state = "child"
        c = await workflow.execute_child_workflow(SpreadChild.run, n, id=f"{workflow.info().workflow_id}-child")
        self.state = "waiting"
        await workflow.wait_condition(lambda: self.released is not None and self.bumped is not None)
        assert self.released is not None and self.bumped is not None
        workflow.continue_as_new(args=[n, a + c + self.released + self.bumped])

    @workflow.query
    def progress(self) -> str:
        return self.state

    @workflow.signal
    def release(self, value: int) -> None:
        if self.released is None:
            self.released = value

    @workflow.update
    def bump(self, value: int) -> int:
        self.bumped = value
        return 2 * value

    @bump.validator
    def check_bump(self, value: int) -> None:
        if value < 0:
            raise ValueError("a bump is not negative")


def spread_expected(n: int) -> int:
    return (n + 1) + (10 * n + 1) + (100 + n) + (1000 + n) + 1


@workflow.defn(sandboxed=False)
class LoadChild:
    @workflow.run
    async def run(self, n: int) -> int:
        return await workflow.execute_activity(add, args=[10 * n, 5], start_to_close_timeout=ACTIVITY_TIMEOUT)


@workflow.defn(sandboxed=False)
class LoadWorkflow:
    """Activity, a 1-3 s timer, a child (with an activity), a signal, an activity.
    Result: 12n + 1006 (signal 1000+n). A repeated signal is ignored."""

    def __init__(self) -> None:
        self.released: int | None = None

    @workflow.run
    async def run(self, n: int) -> int:
        a = await workflow.execute_activity(add, args=[n, 1], start_to_close_timeout=ACTIVITY_TIMEOUT)
        await asyncio.sleep(1 + n % 3)
        c = await workflow.execute_child_workflow(LoadChild.run, n, id=f"{workflow.info().workflow_id}-child")
        await workflow.wait_condition(lambda: self.released is not None)
        assert self.released is not None
        released = self.released
        return await workflow.execute_activity(add, args=[a + c, released], start_to_close_timeout=ACTIVITY_TIMEOUT)

    @workflow.signal
    def release(self, value: int) -> None:
        if self.released is None:
            self.released = value


def load_expected(n: int) -> int:
    return (n + 1) + (10 * n + 5) + (1000 + n)


def spread_worker(client: Client, task_queue: str) -> Worker:
    return Worker(client, task_queue=task_queue, workflows=[SpreadWorkflow, SpreadChild], activities=[add])


def load_worker(client: Client, task_queue: str) -> Worker:
    return Worker(client, task_queue=task_queue, workflows=[LoadWorkflow, LoadChild], activities=[add])


async def connect(node: ClusterNode) -> Client:
    return await Client.connect(node.address, namespace=NAMESPACE, retry_config=RETRY)


# --- fixtures ---------------------------------------------------------------------------------------


@pytest.fixture(scope="class")
def shared_cluster() -> Iterator[Cluster]:
    """Three nodes for the tests that kill none (one class, so that it is gone before the next
    cluster starts: two clusters' connection pools at once come near PostgreSQL's 100)."""
    assert POSTGRES is not None
    with tempfile.TemporaryDirectory(prefix="chronicle-cluster-") as tmp:
        cluster = Cluster(POSTGRES, 3, Path(tmp))
        try:
            cluster.start()
            yield cluster
        finally:
            cluster.close()


@pytest.fixture
def new_cluster() -> Iterator[Callable[[int], Cluster]]:
    """Makes clusters of N nodes (not started) for one test; stops them and drops their
    databases after it."""
    assert POSTGRES is not None
    made: list[Cluster] = []
    with tempfile.TemporaryDirectory(prefix="chronicle-cluster-") as tmp:

        def make(size: int) -> Cluster:
            assert POSTGRES is not None
            cluster = Cluster(POSTGRES, size, Path(tmp))
            made.append(cluster)
            return cluster

        try:
            yield make
        finally:
            for cluster in made:
                cluster.close()


# --- helpers ----------------------------------------------------------------------------------------


async def bounded(cluster: Cluster, body: Awaitable[T], timeout_s: float) -> T:
    """Run a test's body within `timeout_s`; on any failure print the nodes' output tails."""
    try:
        return await asyncio.wait_for(body, timeout_s)
    except BaseException as err:
        print(f"\n=== test failed ({type(err).__name__}); node outputs:\n{cluster.tails()}", flush=True)
        died = cluster.unexpected_exits()
        if died:
            print("=== " + "; ".join(died), flush=True)
        if isinstance(err, (asyncio.TimeoutError, TimeoutError)):
            raise AssertionError(f"the test did not finish within {timeout_s:.0f}s") from err
        raise


async def learn_ids(cluster: Cluster, nodes: list[ClusterNode] | None = None) -> None:
    """Each node's id as it names itself in `cluster describe` (retried while it starts up)."""
    deadline = time.monotonic() + 15
    while True:
        try:
            await asyncio.to_thread(cluster.learn_node_ids, nodes)
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


def ids_of(*nodes: ClusterNode) -> set[str]:
    ids = {n.node_id for n in nodes}
    assert None not in ids, "node ids not learned"
    return {i for i in ids if i is not None}


async def until(
    cluster: Cluster,
    via: ClusterNode,
    predicate: Callable[[dict[str, Any]], bool],
    timeout_s: float,
    what: str,
    *,
    since: float | None = None,
) -> tuple[dict[str, Any], float]:
    """Describe through `via` until `predicate` holds; returns the view and the seconds since
    `since` (default: now). Fails after `timeout_s` from `since` with the last view."""
    start = time.monotonic() if since is None else since
    last: dict[str, Any] | None = None
    last_error: Exception | None = None
    while True:
        try:
            view = await asyncio.to_thread(cluster.describe, via)
            last = view
            if predicate(view):
                return view, time.monotonic() - start
        except Exception as err:  # a node still starting, or a describe that timed out
            last_error = err
        if time.monotonic() - start > timeout_s:
            raise AssertionError(
                f"not within {timeout_s:.0f}s: {what}\n"
                f"last view: {summary(last) if last is not None else None}\nlast error: {last_error}"
            )
        await asyncio.sleep(DESCRIBE_POLL_S)


def owned_only_by(ids: set[str]) -> Callable[[dict[str, Any]], bool]:
    """Every shard has a live lease, held by one of `ids`."""

    def check(view: dict[str, Any]) -> bool:
        own = owners(view)
        return len(view["shards"]) == SHARDS and sum(own.values()) == SHARDS and set(own) <= ids

    return check


def balanced(ids: set[str], lo: int = EVEN_LO, hi: int = EVEN_HI) -> Callable[[dict[str, Any]], bool]:
    """`ids` are live and own every shard, each between `lo` and `hi`."""
    only = owned_only_by(ids)

    def check(view: dict[str, Any]) -> bool:
        own = owners(view)
        return only(view) and ids <= live_nodes(view) and all(lo <= own[i] <= hi for i in ids)

    return check


ACTIVITY_CLOSE = {
    EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED: "activity_task_completed_event_attributes",
    EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED: "activity_task_failed_event_attributes",
    EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT: "activity_task_timed_out_event_attributes",
    EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED: "activity_task_canceled_event_attributes",
}
WORKFLOW_CLOSE = {
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
}


def history_problems(
    label: str,
    events: list[Any],
    *,
    activities: int,
    children: int,
    close: EventType.ValueType = EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
) -> list[str]:
    """What is wrong with one run's history: event ids not 1..N, not exactly one close event
    (`close`, last), an activity scheduled not exactly once closed (or closed unscheduled), or
    other counts of activities and children than expected."""
    problems: list[str] = []
    ids = [e.event_id for e in events]
    if ids != list(range(1, len(ids) + 1)):
        problems.append(f"{label}: event ids are not 1..{len(ids)}: {ids}")
    types = [e.event_type for e in events]
    closes = [t for t in types if t in WORKFLOW_CLOSE]
    if closes != [close] or not types or types[-1] != close:
        names = [EventType.Name(t) for t in closes]
        problems.append(f"{label}: close events {names}, want one {EventType.Name(close)} last")
    scheduled = [e.event_id for e in events if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED]
    closed: Counter[int] = Counter()
    for e in events:
        attr = ACTIVITY_CLOSE.get(e.event_type)
        if attr is not None:
            closed[getattr(e, attr).scheduled_event_id] += 1
    if len(scheduled) != activities:
        problems.append(f"{label}: {len(scheduled)} activities scheduled, want {activities}")
    for sid in scheduled:
        if closed[sid] != 1:
            problems.append(f"{label}: activity scheduled at event {sid} closed {closed[sid]} times")
    for sid in set(closed) - set(scheduled):
        problems.append(f"{label}: an activity close event names event {sid}, which scheduled none")
    for kind in (
        EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED,
        EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED,
        EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED,
    ):
        if types.count(kind) != children:
            problems.append(f"{label}: {types.count(kind)} {EventType.Name(kind)}, want {children}")
    return problems


def signals_in(events: list[Any]) -> int:
    return sum(1 for e in events if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED)


def retries_in(events: list[Any]) -> Counter[str]:
    """What a disruption costs, for the report: workflow tasks timed out or failed, activity
    attempts after the first."""
    counts: Counter[str] = Counter()
    for e in events:
        if e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT:
            # Schedule-to-start: a sticky queue nobody took it from in time
            # (its worker's polls went to a node that stopped answering);
            # start-to-close: a started task whose worker never answered.
            kind = e.workflow_task_timed_out_event_attributes.timeout_type
            label = "schedule-to-start" if kind == TimeoutType.TIMEOUT_TYPE_SCHEDULE_TO_START else "start-to-close"
            counts[f"workflow task timeouts ({label})"] += 1
        elif e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
            counts["workflow task failures"] += 1
        elif e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            if e.activity_task_started_event_attributes.attempt > 1:
                counts["activities that needed a retry"] += 1
    return counts


def activities_run_twice(workflow_ids: set[str]) -> int:
    return sum(1 for (wid, _, _), n in EXECUTIONS.items() if n > 1 and wid in workflow_ids)


async def gather_limited(limit: int, coros: list[Awaitable[T]]) -> list[T]:
    sem = asyncio.Semaphore(limit)

    async def one(c: Awaitable[T]) -> T:
        async with sem:
            return await c

    return await asyncio.gather(*(one(c) for c in coros))


class Load:
    """`count` LoadWorkflows on one task queue, started through `starter` evenly over
    `start_over_s` seconds (so that the starts straddle what the test does meanwhile). Each is
    signaled `signal_delay(n)` seconds after its start was acknowledged, through the client
    `signaler()` returns at that moment, and its result is awaited through `waiter`."""

    def __init__(
        self,
        name: str,
        count: int,
        task_queue: str,
        *,
        starter: Client,
        signaler: Callable[[], Client],
        waiter: Client,
        start_over_s: float = 4.0,
        signal_delay: Callable[[int], float] = lambda n: 1.5 + (n % 8) * 0.5,
    ) -> None:
        self.name = name
        self.count = count
        self.task_queue = task_queue
        self.prefix = f"{name}-{uuid.uuid4().hex[:12]}"
        self.starter = starter
        self.signaler = signaler
        self.waiter = waiter
        self.start_over_s = start_over_s
        self.signal_delay = signal_delay
        self.acknowledged: dict[str, int] = {}
        self.already_started: list[str] = []
        self.start_errors: dict[str, BaseException] = {}
        self.signal_errors: dict[str, BaseException] = {}
        self.results: dict[str, int] = {}
        self.result_errors: dict[str, BaseException] = {}
        self.tasks: list[asyncio.Task[None]] = []
        self._results_in_flight = asyncio.Semaphore(50)
        self.began = time.monotonic()

    def wid(self, n: int) -> str:
        return f"{self.prefix}-{n}"

    async def start_all(self) -> None:
        async def one(n: int) -> None:
            wid = self.wid(n)
            await asyncio.sleep(self.start_over_s * n / self.count)
            try:
                await self.starter.start_workflow(LoadWorkflow.run, n, id=wid, task_queue=self.task_queue)
            except WorkflowAlreadyStartedError:
                # Only an earlier try of this very start (retried by the SDK after an
                # UNAVAILABLE) can have taken this id: the workflow is there.
                self.already_started.append(wid)
            except Exception as err:
                self.start_errors[wid] = err
                return
            self.acknowledged[wid] = n
            self.tasks.append(asyncio.create_task(self._signal(wid, n)))
            self.tasks.append(asyncio.create_task(self._result(wid)))

        self.began = time.monotonic()
        await asyncio.gather(*(one(n) for n in range(self.count)))

    async def _signal(self, wid: str, n: int) -> None:
        await asyncio.sleep(self.signal_delay(n))
        try:
            await self.signaler().get_workflow_handle(wid).signal(LoadWorkflow.release, 1000 + n)
        except Exception as err:
            self.signal_errors[wid] = err

    async def _result(self, wid: str) -> None:
        async with self._results_in_flight:
            try:
                self.results[wid] = await self.waiter.get_workflow_handle(wid).result()
            except Exception as err:
                self.result_errors[wid] = err

    async def wait(self, deadline: float) -> None:
        """Wait (until the monotonic `deadline`) for every acknowledged workflow's signal and
        result; fail with what is missing or wrong."""
        if self.tasks:
            _, pending = await asyncio.wait(self.tasks, timeout=max(0.0, deadline - time.monotonic()))
            for task in pending:
                task.cancel()
        missing = sorted(set(self.acknowledged) - set(self.results) - set(self.result_errors))
        wrong = {
            wid: (got, load_expected(self.acknowledged[wid]))
            for wid, got in self.results.items()
            if got != load_expected(self.acknowledged[wid])
        }
        print(
            f"{self.name}: {len(self.acknowledged)}/{self.count} starts acknowledged "
            f"({len(self.already_started)} answered 'already started' after a retry, {len(self.start_errors)} failed), "
            f"{len(self.results)} completed in {time.monotonic() - self.began:.1f}s",
            flush=True,
        )
        assert self.acknowledged, f"{self.name}: no start was acknowledged: {list(self.start_errors.values())[:3]}"
        assert len(self.acknowledged) >= self.count // 2, (
            f"{self.name}: only {len(self.acknowledged)} of {self.count} starts acknowledged; "
            f"some errors: {list(self.start_errors.items())[:3]}"
        )
        assert not self.signal_errors, f"{self.name}: signals failed: {list(self.signal_errors.items())[:5]}"
        if self.result_errors:
            # Tell a failed wait for the result from a failed workflow: where are those runs now?
            async def status(wid: str) -> str:
                try:
                    st = (await self.waiter.get_workflow_handle(wid).describe()).status
                    return st.name if st is not None else "no status"
                except Exception as err:
                    return f"describe failed: {err!r}"

            statuses = Counter(await gather_limited(10, [status(w) for w in self.result_errors]))
            errors = Counter(repr(e) for e in self.result_errors.values())
            raise AssertionError(
                f"{self.name}: waiting for {len(self.result_errors)} results failed: {dict(errors)}; "
                f"those workflows are now: {dict(statuses)}; e.g. {sorted(self.result_errors)[:5]}"
            )
        assert not missing, f"{self.name}: {len(missing)} workflows did not complete in time, e.g. {missing[:5]}"
        assert not wrong, f"{self.name}: wrong results (got, want): {list(wrong.items())[:5]}"

    async def verify(self, clients: list[Client]) -> None:
        """Every acknowledged workflow and its child: a history without duplicates (read through
        `clients` in turn), and exactly one run in visibility, completed."""
        wids = sorted(self.acknowledged)

        async def check(i: int, wid: str) -> tuple[list[str], int, Counter[str]]:
            client = clients[i % len(clients)]
            parent = (await client.get_workflow_handle(wid).fetch_history()).events
            child = (await client.get_workflow_handle(f"{wid}-child").fetch_history()).events
            problems = history_problems(wid, parent, activities=2, children=1)
            problems += history_problems(f"{wid}-child", child, activities=1, children=0)
            return problems, signals_in(parent), retries_in(parent) + retries_in(child)

        checked = await gather_limited(10, [check(i, wid) for i, wid in enumerate(wids)])
        problems = [p for ps, _, _ in checked for p in ps]
        assert not problems, f"{self.name}: {len(problems)} history problems, e.g.:\n" + "\n".join(problems[:20])
        resignaled = sum(1 for _, signals, _ in checked if signals > 1)
        retries = sum((r for _, _, r in checked), Counter())
        all_ids = set(wids) | {f"{w}-child" for w in wids}
        print(
            f"{self.name}: {len(wids)} histories checked; {resignaled} workflows got their signal more than once; "
            f"{activities_run_twice(all_ids)} activity tasks ran more than once (at least once is allowed); "
            f"{dict(retries) or 'no task timed out, failed or was retried'}",
            flush=True,
        )
        await self.verify_visibility(clients[0], all_ids)

    async def verify_visibility(self, client: Client, all_ids: set[str]) -> None:
        """Each workflow id has exactly one run on the task queue, completed (visibility may
        lag a little: retried for 15 s)."""
        deadline = time.monotonic() + 15
        while True:
            runs: dict[str, list[tuple[str, WorkflowExecutionStatus | None]]] = {}
            async for wf in client.list_workflows(f"TaskQueue = '{self.task_queue}'"):
                runs.setdefault(wf.id, []).append((wf.run_id, wf.status))
            bad = {
                wid: runs.get(wid, [])
                for wid in all_ids
                if len(runs.get(wid, [])) != 1 or runs[wid][0][1] != WorkflowExecutionStatus.COMPLETED
            }
            if not bad:
                return
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{self.name}: {len(bad)} workflow ids without exactly one completed run, "
                    f"e.g. {list(bad.items())[:5]}"
                )
            await asyncio.sleep(0.5)


# --- tests ------------------------------------------------------------------------------------------


class TestSharedCluster:
    """Tests that kill no node share one three-node cluster."""

    async def test_cluster_describe(self, shared_cluster: Cluster) -> None:
        cluster = shared_cluster

        async def body() -> None:
            await learn_ids(cluster)
            ids = ids_of(*cluster.nodes)
            assert len(ids) == 3, f"three nodes, three ids: {ids}"

            def settled(view: dict[str, Any]) -> bool:
                own = owners(view)
                counts = {n["nodeId"]: n["shards"] for n in view["nodes"]}
                return balanced(ids)(view) and all(counts.get(i) == own[i] for i in ids)

            assert cluster.started_at is not None
            view, elapsed = await until(
                cluster,
                cluster.nodes[0],
                settled,
                SETTLE_S,
                f"3 nodes live, all {SHARDS} shards owned, {EVEN_LO}..{EVEN_HI} each, node counts agreeing",
                since=cluster.started_at,
            )
            print(f"settled {elapsed:.1f}s after the nodes were started: {summary(view)}", flush=True)

            assert [s["shardId"] for s in sorted(view["shards"], key=lambda s: s["shardId"])] == list(range(SHARDS))
            assert all(s["epoch"] >= 1 and s["leaseAgeMs"] >= 0 for s in view["shards"]), view["shards"][:3]
            by_id = {n["nodeId"]: n for n in view["nodes"]}
            for node in cluster.nodes:
                entry = by_id[node.node_id]
                assert entry["rpcAddress"] == node.address, entry
                assert entry["clusterAddress"] == f"127.0.0.1:{node.cluster_port}", entry
                assert entry["live"] is True and entry["heartbeatAgeMs"] < 5000, entry

            # Every node answers, names itself, and sees the same owners.
            want = {s["shardId"]: s["owner"] for s in view["shards"]}
            for node in cluster.nodes:
                seen, _ = await until(
                    cluster,
                    node,
                    lambda v: {s["shardId"]: s["owner"] for s in v["shards"]} == want,
                    10,
                    f"{node.label} sees the same shard owners as {cluster.nodes[0].label}",
                )
                assert seen["nodeId"] == node.node_id

            # The human form.
            for node in cluster.nodes:
                out = await asyncio.to_thread(cluster.cli, "cluster", "describe", "--address", node.address)
                assert out.returncode == 0, f"{out.stdout}{out.stderr}"
                for i in ids:
                    assert i in out.stdout, f"{i} missing from the table:\n{out.stdout}"

        await bounded(cluster, body(), 60)

    async def test_sdk_spread_over_nodes(self, shared_cluster: Cluster) -> None:
        cluster = shared_cluster
        n1, n2, n3 = cluster.nodes

        async def body() -> None:
            await learn_ids(cluster)
            await until(cluster, n3, owned_only_by(ids_of(n1, n2, n3)), SETTLE_S, "every shard owned")
            worker_a, worker_b = await connect(n1), await connect(n2)
            c1, c2, c3 = await connect(n1), await connect(n2), await connect(n3)
            tq = f"cluster-spread-{uuid.uuid4()}"
            prefix = f"spread-{uuid.uuid4().hex[:12]}"

            async def one(n: int) -> tuple[str, str, str, int]:
                wid = f"{prefix}-{n}"
                handle = await c3.start_workflow(SpreadWorkflow.run, n, id=wid, task_queue=tq)
                # Query through node 3 until the run waits (activity, timer and child done).
                deadline = time.monotonic() + SPREAD_TIMEOUT_S / 2
                state: str | Exception = "no answer"
                while state != "waiting":
                    if time.monotonic() > deadline:
                        raise AssertionError(f"{wid} not waiting for its signal in time; last query answer: {state!r}")
                    await asyncio.sleep(0.3)
                    try:
                        state = await c3.get_workflow_handle(wid).query(SpreadWorkflow.progress)
                    except Exception as err:  # e.g. not queryable before its first workflow task completed
                        state = err
                await c1.get_workflow_handle(wid).signal(SpreadWorkflow.release, 100 + n)
                bumped = await c2.get_workflow_handle(wid).execute_update(SpreadWorkflow.bump, 1000 + n)
                assert bumped == 2 * (1000 + n)
                result = await handle.result()
                first_run = handle.first_execution_run_id or handle.result_run_id
                assert first_run is not None
                last = await c3.get_workflow_handle(wid).describe()
                assert last.status == WorkflowExecutionStatus.COMPLETED
                assert last.run_id != first_run, "continued as new once"
                assert await c1.get_workflow_handle(wid).query(SpreadWorkflow.progress) == "continued"
                return wid, first_run, last.run_id, result

            async with spread_worker(worker_a, tq), spread_worker(worker_b, tq):
                done = await asyncio.gather(*(one(n) for n in range(SPREAD_WORKFLOWS)))

            assert [r for _, _, _, r in done] == [spread_expected(n) for n in range(SPREAD_WORKFLOWS)]

            problems: list[str] = []
            for wid, first, last, _ in done:
                run1 = (await c1.get_workflow_handle(wid, run_id=first).fetch_history()).events
                run2 = (await c2.get_workflow_handle(wid, run_id=last).fetch_history()).events
                child = (await c3.get_workflow_handle(f"{wid}-child").fetch_history()).events
                problems += history_problems(
                    f"{wid} run 1", run1, activities=1, children=1,
                    close=EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW,
                )
                problems += history_problems(f"{wid} run 2", run2, activities=1, children=0)
                problems += history_problems(f"{wid}-child", child, activities=1, children=0)
                kinds = [e.event_type for e in run1]
                for kind in (
                    EventType.EVENT_TYPE_TIMER_FIRED,
                    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED,
                    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED,
                    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED,
                ):
                    if kinds.count(kind) != 1:
                        problems.append(f"{wid} run 1: {kinds.count(kind)} {EventType.Name(kind)}, want 1")
            assert not problems, "\n".join(problems[:20])

            # One history read through each node: the same events.
            wid, first, last, _ = done[0]
            for run in (first, last):
                seen = [
                    list((await c.get_workflow_handle(wid, run_id=run).fetch_history()).events) for c in (c1, c2, c3)
                ]
                assert seen[0], "an empty history"
                assert seen[0] == seen[1] == seen[2], f"{wid} run {run}: the nodes answer different histories"

            all_ids = {w for w, _, _, _ in done} | {f"{w}-child" for w, _, _, _ in done}
            print(
                f"spread: {len(done)} workflows; {activities_run_twice(all_ids)} activity tasks ran more than once",
                flush=True,
            )

        await bounded(cluster, body(), SPREAD_TIMEOUT_S)


async def test_kill_node_under_load(new_cluster: Callable[[int], Cluster]) -> None:
    cluster = new_cluster(3)
    n1, n2, n3 = cluster.nodes

    async def body() -> None:
        await asyncio.to_thread(cluster.start)
        await learn_ids(cluster)
        survivors = ids_of(n1, n3)
        await until(cluster, n1, balanced(ids_of(n1, n2, n3)), SETTLE_S, "3 nodes share the shards")
        tq = f"cluster-kill-{uuid.uuid4()}"
        worker_1, worker_3 = await connect(n1), await connect(n3)
        c1, waiter = await connect(n1), await connect(n1)
        load = Load("kill", KILL_LOAD, tq, starter=c1, signaler=lambda: c1, waiter=waiter)
        async with load_worker(worker_1, tq), load_worker(worker_3, tq):
            starting = asyncio.create_task(load.start_all())
            await asyncio.sleep(KILL_AFTER_S)
            n2.kill()
            killed_at = time.monotonic()
            view, failover = await until(
                cluster, n1, owned_only_by(survivors), FAILOVER_S, f"{n2.node_id}'s shards owned by nodes 1 and 3",
                since=killed_at,
            )
            print(f"kill: node 2's shards moved {failover:.1f}s after SIGKILL: {summary(view)}", flush=True)
            await starting
            await load.wait(killed_at + KILL_COMPLETE_S)
        assert n1.alive() and n3.alive(), "a surviving node died"
        await load.verify([c1, await connect(n3)])

    await bounded(cluster, body(), KILL_TIMEOUT_S)


async def test_paused_node_is_fenced(new_cluster: Callable[[int], Cluster]) -> None:
    cluster = new_cluster(3)
    n1, n2, n3 = cluster.nodes

    async def body() -> None:
        await asyncio.to_thread(cluster.start)
        await learn_ids(cluster)
        everyone = ids_of(n1, n2, n3)
        await until(cluster, n1, balanced(everyone), SETTLE_S, "3 nodes share the shards")
        tq = f"cluster-pause-{uuid.uuid4()}"
        worker_1, worker_3 = await connect(n1), await connect(n3)
        c1, c3, waiter = await connect(n1), await connect(n3), await connect(n1)
        load = Load("pause", PAUSE_LOAD, tq, starter=c1, signaler=lambda: c3, waiter=waiter)
        async with load_worker(worker_1, tq), load_worker(worker_3, tq):
            starting = asyncio.create_task(load.start_all())
            await asyncio.sleep(PAUSE_AFTER_S)
            n2.pause()
            paused_at = time.monotonic()
            try:
                view, moved = await until(
                    cluster, n1, owned_only_by(ids_of(n1, n3)), PAUSE_S - 1,
                    f"paused {n2.node_id}'s shards owned by nodes 1 and 3", since=paused_at,
                )
                print(f"pause: node 2's shards moved {moved:.1f}s after SIGSTOP: {summary(view)}", flush=True)
                await asyncio.sleep(max(0.0, paused_at + PAUSE_S - time.monotonic()))
            finally:
                n2.resume()
            resumed_at = time.monotonic()
            # Node 2 may come back under its old id or a new one: ask it.
            await learn_ids(cluster, [n2])
            everyone = ids_of(n1, n2, n3)
            view, rejoined = await until(
                cluster, n1, balanced(everyone), REJOIN_S, f"resumed {n2.node_id} live and owning its share again",
                since=resumed_at,
            )
            print(f"pause: node 2 owns {owners(view)[n2.node_id]} shards {rejoined:.1f}s after SIGCONT", flush=True)
            await until(cluster, n2, balanced(everyone), 5, "node 2 sees the same", since=None)
            await starting
            await load.wait(resumed_at + PAUSE_COMPLETE_S)
        assert n1.alive() and n2.alive() and n3.alive(), "a node died"
        await load.verify([c1, c3, await connect(n2)])

    await bounded(cluster, body(), PAUSE_TIMEOUT_S)


async def test_node_joins_under_load(new_cluster: Callable[[int], Cluster]) -> None:
    cluster = new_cluster(2)
    n1, n2 = cluster.nodes
    n3 = cluster.add_node()  # its ports are fixed now; started mid-load

    async def body() -> None:
        await asyncio.to_thread(cluster.start, [n1, n2])
        await learn_ids(cluster, [n1, n2])
        pair = ids_of(n1, n2)
        await until(cluster, n1, balanced(pair, 100, 156), SETTLE_S, "2 nodes share the shards")
        tq = f"cluster-join-{uuid.uuid4()}"
        worker_1, worker_2 = await connect(n1), await connect(n2)
        c1, c2, waiter = await connect(n1), await connect(n2), await connect(n1)
        c3: list[Client] = []  # node 3's client once it is up: signals go through it then
        load = Load("join", JOIN_LOAD, tq, starter=c1, signaler=lambda: c3[0] if c3 else c2, waiter=waiter)
        async with load_worker(worker_1, tq), load_worker(worker_2, tq):
            starting = asyncio.create_task(load.start_all())
            await asyncio.sleep(JOIN_AFTER_S)
            await asyncio.to_thread(cluster.start, [n3])
            joined_at = time.monotonic()
            c3.append(await connect(n3))
            await learn_ids(cluster, [n3])
            everyone = ids_of(n1, n2, n3)
            view, settled = await until(
                cluster, n1, balanced(everyone), JOIN_SETTLE_S, f"{n3.node_id} owning its share", since=joined_at
            )
            print(f"join: node 3 owns {owners(view)[n3.node_id]} shards {settled:.1f}s after it was ready", flush=True)
            await starting
            await load.wait(joined_at + JOIN_COMPLETE_S)
        assert n1.alive() and n2.alive() and n3.alive(), "a node died"
        await load.verify([c1, c2, c3[0]])

    await bounded(cluster, body(), JOIN_TIMEOUT_S)


def test_describe_on_the_client_port_needs_an_admin_key(tmp_path: Path) -> None:
    """With API keys on, `cluster describe` (it shows the cluster's layout) takes an admin key
    for every namespace, as operator calls do: none is refused, a namespace's worker key is
    denied."""
    assert POSTGRES is not None
    keys = tmp_path / "keys"
    binary = str(_chronicle_bin())

    def create(name: str, namespace: str, role: str) -> str:
        out = subprocess.run(
            [binary, "auth", "key", "create", "--name", name, "--namespace", namespace, "--role", role,
             "--auth-keys", str(keys)],
            check=True, capture_output=True, text=True,
        ).stdout
        return dict(part.split(": ", 1) for part in out.strip().splitlines())["key"]

    admin, worker = create("ops", "*", "admin"), create("app", "default", "worker")
    (metrics_port,) = free_ports(1)
    cluster = Cluster(POSTGRES, 1, tmp_path, extra_args=["--auth-keys", str(keys), "--metrics-port", str(metrics_port)])
    try:
        cluster.start()
        node = cluster.nodes[0]
        # The node's health for a load balancer, next to its metrics (no key needed).
        assert http_get(metrics_port, "/health/live") == (200, "live\n")
        deadline = time.monotonic() + DESCRIBE_TIMEOUT_S
        while http_get(metrics_port, "/health/ready")[0] != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert http_get(metrics_port, "/health/ready") == (200, "ready\n")
        describe = ["cluster", "describe", "--address", node.address, "-o", "json"]
        refused = cluster.cli(*describe)
        assert refused.returncode != 0 and "API key" in refused.stderr, refused
        denied = cluster.cli(*describe, "--api-key", worker)
        assert denied.returncode != 0 and "PermissionDenied" in denied.stderr.replace(" ", ""), denied
        deadline = time.monotonic() + DESCRIBE_TIMEOUT_S
        while True:
            shown = cluster.cli(*describe, "--api-key", admin)
            if shown.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.2)  # the node's first view of the cluster may not be read yet
        assert shown.returncode == 0, shown
        assert json.loads(shown.stdout)["nodes"][0]["rpcAddress"] == node.address
    finally:
        cluster.close()


async def test_nodes_talk_over_mutual_tls(tmp_path: Path) -> None:
    """With --cluster-tls-*, nodes serve their cluster port over TLS and call each other with
    certificates from the cluster CA: work spread over two nodes completes (calls forwarded,
    tasks handed across); a plain caller, or one without a certificate from that CA, is refused."""
    from test_security import Certs

    assert POSTGRES is not None
    certs = Certs(tmp_path / "certs")
    certs.dir.mkdir()
    certs.ca("ca")
    certs.ca("other-ca")
    certs.leaf("node", "ca", "serverAuth,clientAuth")
    certs.leaf("rogue", "other-ca", "serverAuth,clientAuth")
    tls = ["--cluster-tls-cert", certs.path("node.pem"), "--cluster-tls-key", certs.path("node.key"),
           "--cluster-tls-ca", certs.path("ca.pem")]
    cluster = Cluster(POSTGRES, 2, tmp_path, extra_args=tls)
    n1, n2 = cluster.nodes

    async def body() -> None:
        await asyncio.to_thread(cluster.start)
        for node in cluster.nodes:
            assert any("serves mutual TLS only" in line for line in node.output), node.tail()
        await learn_ids(cluster)
        await until(cluster, n1, balanced(ids_of(n1, n2), 100, 156), SETTLE_S, "2 nodes share the shards")
        tq = f"cluster-tls-{uuid.uuid4()}"
        starter, worker = await connect(n1), await connect(n2)
        async with Worker(worker, task_queue=tq, workflows=[LoadChild], activities=[add]):
            results = await asyncio.gather(*(
                starter.execute_workflow(LoadChild.run, n, id=f"tls-{uuid.uuid4()}", task_queue=tq)
                for n in range(20)
            ))
        assert results == [10 * n + 5 for n in range(20)]
        # The cluster port takes no plain caller (the CLI speaks plain gRPC to it here).
        plain = cluster.cli("cluster", "describe", "--address", f"127.0.0.1:{n1.cluster_port}", timeout_s=10)
        assert plain.returncode != 0, plain

        # A caller must show a certificate from the cluster CA.
        port = n1.cluster_port
        assert await asyncio.to_thread(speaks_h2_over_tls, port, certs, "node"), "a node's certificate is taken"
        assert not await asyncio.to_thread(speaks_h2_over_tls, port, certs, "rogue"), "another CA's is refused"
        assert not await asyncio.to_thread(speaks_h2_over_tls, port, certs, None), "no certificate is refused"

    try:
        await bounded(cluster, body(), 120)
    finally:
        cluster.close()


def http_get(port: int, path: str) -> tuple[int, str]:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def speaks_h2_over_tls(port: int, certs: Any, client: str | None) -> bool:
    """Whether a TLS client trusting the cluster CA, showing `client`'s certificate (or none),
    gets an HTTP/2 answer from 127.0.0.1:`port` (TLS 1.3 refuses a client certificate after the
    handshake: the refusal shows on the first read)."""
    import socket
    import ssl

    context = ssl.create_default_context(cafile=certs.path("ca.pem"))
    context.set_alpn_protocols(["h2"])
    if client is not None:
        context.load_cert_chain(certs.path(f"{client}.pem"), certs.path(f"{client}.key"))
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
            with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                tls.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0]))
                return len(tls.recv(9)) > 0
    except (ssl.SSLError, ConnectionError, TimeoutError, OSError):
        return False
