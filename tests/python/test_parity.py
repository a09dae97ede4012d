"""Behaviour an SDK must not be able to tell apart from Temporal's: the
flags SDK test suites start a dev server with, run ids, user metadata,
zero-length timers, updates at the end of a run, update-with-start on an
update the run already has, and hostile queries. The same workflows that
write events are also compared with Temporal's histories in
test_differential.py."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
import uuid
from datetime import timedelta

from temporalio import activity, workflow

with workflow.unsafe.imports_passed_through():
    import pytest
    from conftest import SERVERS
    from temporalio.api.enums.v1 import EventType
    from temporalio.client import (
        Client,
        WithStartWorkflowOperation,
        WorkflowUpdateFailedError,
        WorkflowUpdateRPCTimeoutOrCancelledError,
        WorkflowUpdateStage,
    )
    from temporalio.api.update.v1 import UpdateRef
    from temporalio.api.common.v1 import WorkflowExecution
    from temporalio.api.workflowservice.v1 import PollWorkflowExecutionUpdateRequest
    from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
    from temporalio.exceptions import ActivityError, ApplicationError, CancelledError
    from temporalio.service import RPCError, RPCStatusCode
    from temporalio.worker import Worker

# The dynamic config the Python SDK's own test suite starts its dev server with.
CHRONICLE_SERVER_ARGS = [
    arg
    for value in [
        "system.forceSearchAttributesCacheRefreshOnRead=true",
        "limit.historyCount.suggestContinueAsNew=50",
        "system.enableEagerWorkflowStart=true",
        "frontend.enableExecuteMultiOperation=true",
        "frontend.workerVersioningWorkflowAPIs=true",
        "frontend.workerVersioningDataAPIs=true",
        "system.enableDeploymentVersions=true",
        "frontend.activityAPIsEnabled=true",
        "component.nexusoperations.recordCancelRequestCompletionEvents=true",
        "frontend.enableServerVersionCheck=false",
        "frontend.enableUpdateWorkflowExecution=true",
        "frontend.enableUpdateWorkflowExecutionAsyncAccepted=true",
        'component.callbacks.allowedAddresses=[{"Pattern":"*","AllowInsecure":true}]',
    ]
    for arg in ("--dynamic-config-value", value)
]


@activity.defn
async def parity_echo(text: str) -> str:
    return text


@workflow.defn
class ParityChild:
    @workflow.run
    async def run(self) -> str:
        return "child done"


@workflow.defn
class ParityMetadataWorkflow:
    """Summaries on a zero-length timer, a timer, an activity and a child."""

    @workflow.run
    async def run(self) -> str:
        await workflow.sleep(0, summary="zero nap")
        await workflow.sleep(timedelta(milliseconds=50), summary="short nap")
        echoed = await workflow.execute_activity(
            parity_echo, "hi", start_to_close_timeout=timedelta(seconds=10), summary="echo it"
        )
        child = await workflow.execute_child_workflow(
            ParityChild.run,
            id=f"{workflow.info().workflow_id}-child",
            static_summary="child summary",
            static_details="child details",
        )
        return f"{echoed}:{child}"


@workflow.defn
class ParityUnfinishedUpdate:
    """Completes on a signal while an accepted update's handler still waits."""

    def __init__(self) -> None:
        self.finish = False

    @workflow.run
    async def run(self) -> str:
        await workflow.wait_condition(lambda: self.finish)
        return "finished"

    @workflow.update(unfinished_policy=workflow.HandlerUnfinishedPolicy.ABANDON)
    async def never_done(self) -> str:
        await workflow.wait_condition(lambda: False)
        return "unreachable"

    @workflow.update
    def quick(self, value: int) -> int:
        return value * 2

    @workflow.signal
    def done(self) -> None:
        self.finish = True

    @workflow.query
    def simple_query(self) -> bool:
        return True


def metadata_text(client: Client, payload) -> str:
    return client.data_converter.payload_converter.from_payload(payload, str)


async def test_sdk_suite_dynamic_config_is_accepted(client: Client, chronicle_server: str) -> None:
    """The server started with the SDK suite's flags, applied the limit it
    knows (suggest continue-as-new at 50 events) and named the rest once."""
    server = SERVERS.get(chronicle_server)
    if server is None:
        pytest.skip("an external server: its flags are not ours")
    warnings = [line for line in server.output if "does not apply these keys" in line]
    assert len(warnings) == 1, list(server.output)
    assert "frontend.workerVersioningWorkflowAPIs" in warnings[0]
    assert "system.enableEagerWorkflowStart" not in warnings[0]


async def test_run_ids_are_uuid_v7(client: Client) -> None:
    queue = f"parity-{uuid.uuid4()}"
    async with Worker(client, task_queue=queue, workflows=[ParityChild]):
        handle = await client.start_workflow(ParityChild.run, id=f"parity-v7-{uuid.uuid4()}", task_queue=queue)
        assert await handle.result() == "child done"
    assert uuid.UUID(handle.result_run_id).version == 7


async def test_user_metadata_and_zero_length_timers(client: Client) -> None:
    queue = f"parity-{uuid.uuid4()}"
    workflow_id = f"parity-metadata-{uuid.uuid4()}"
    async with Worker(client, task_queue=queue, workflows=[ParityMetadataWorkflow, ParityChild], activities=[parity_echo]):
        handle = await client.start_workflow(
            ParityMetadataWorkflow.run,
            id=workflow_id,
            task_queue=queue,
            static_summary="my summary",
            static_details="my details",
        )
        assert await handle.result() == "hi:child done"

    described = await handle.describe()
    assert await described.static_summary() == "my summary"
    assert await described.static_details() == "my details"
    child = await client.get_workflow_handle(f"{workflow_id}-child").describe()
    assert await child.static_summary() == "child summary"
    assert await child.static_details() == "child details"

    events = (await handle.fetch_history()).events
    started = events[0]
    assert metadata_text(client, started.user_metadata.summary) == "my summary"
    timers = [e for e in events if e.event_type == EventType.EVENT_TYPE_TIMER_STARTED]
    assert [metadata_text(client, e.user_metadata.summary) for e in timers] == ["zero nap", "short nap"]
    assert timers[0].timer_started_event_attributes.start_to_fire_timeout.ToNanoseconds() == 0
    fired = [e for e in events if e.event_type == EventType.EVENT_TYPE_TIMER_FIRED]
    assert len(fired) == 2
    scheduled = next(e for e in events if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)
    assert metadata_text(client, scheduled.user_metadata.summary) == "echo it"
    initiated = next(
        e for e in events if e.event_type == EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED
    )
    assert metadata_text(client, initiated.user_metadata.summary) == "child summary"


async def test_update_unfinished_when_the_workflow_completes(client: Client) -> None:
    queue = f"parity-{uuid.uuid4()}"
    async with Worker(client, task_queue=queue, workflows=[ParityUnfinishedUpdate]):
        handle = await client.start_workflow(
            ParityUnfinishedUpdate.run, id=f"parity-unfinished-{uuid.uuid4()}", task_queue=queue
        )
        update = await handle.start_update(
            ParityUnfinishedUpdate.never_done, id="pending", wait_for_stage=WorkflowUpdateStage.ACCEPTED
        )
        await handle.signal(ParityUnfinishedUpdate.done)
        assert await handle.result() == "finished"
        for outcome in (update, handle.get_update_handle("pending")):
            with pytest.raises(WorkflowUpdateFailedError) as err:
                await outcome.result()
            cause = err.value.cause
            assert isinstance(cause, ApplicationError), cause
            assert cause.type == "AcceptedUpdateCompletedWorkflow"
            assert cause.non_retryable
            assert cause.message == "Workflow Update failed because the Workflow completed before the Update completed."
        # The closed run refuses new updates.
        with pytest.raises(RPCError) as rpc:
            await handle.execute_update(ParityUnfinishedUpdate.quick, 1, id="too-late")
        assert rpc.value.status == RPCStatusCode.NOT_FOUND


async def test_update_with_start_attaches_to_an_update_the_run_has(client: Client) -> None:
    queue = f"parity-{uuid.uuid4()}"
    workflow_id = f"parity-uws-{uuid.uuid4()}"

    def start_op(conflict: WorkflowIDConflictPolicy, reuse=WorkflowIDReusePolicy.ALLOW_DUPLICATE):
        return WithStartWorkflowOperation(
            ParityUnfinishedUpdate.run,
            id=workflow_id,
            task_queue=queue,
            id_conflict_policy=conflict,
            id_reuse_policy=reuse,
        )

    async with Worker(client, task_queue=queue, workflows=[ParityUnfinishedUpdate]):
        first = start_op(WorkflowIDConflictPolicy.FAIL)
        assert await client.execute_update_with_start_workflow(
            ParityUnfinishedUpdate.quick, 21, id="answer", start_workflow_operation=first
        ) == 42
        handle = await first.workflow_handle()
        # The same update id again, with every conflict policy: the outcome
        # it already has, no second run and no AlreadyStarted.
        for conflict in (
            WorkflowIDConflictPolicy.FAIL,
            WorkflowIDConflictPolicy.USE_EXISTING,
        ):
            op = start_op(conflict)
            assert await client.execute_update_with_start_workflow(
                ParityUnfinishedUpdate.quick, 21, id="answer", start_workflow_operation=op
            ) == 42
            assert (await op.workflow_handle()).first_execution_run_id == handle.first_execution_run_id
        # Once the run closed, the completed update is still the answer.
        await handle.signal(ParityUnfinishedUpdate.done)
        await handle.result()
        op = start_op(WorkflowIDConflictPolicy.FAIL)
        assert await client.execute_update_with_start_workflow(
            ParityUnfinishedUpdate.quick, 21, id="answer", start_workflow_operation=op
        ) == 42
        assert (await op.workflow_handle()).first_execution_run_id == handle.first_execution_run_id
        # A new update id starts a new run.
        op = start_op(WorkflowIDConflictPolicy.FAIL)
        assert await client.execute_update_with_start_workflow(
            ParityUnfinishedUpdate.quick, 5, id="another", start_workflow_operation=op
        ) == 10
        fresh = await op.workflow_handle()
        assert fresh.first_execution_run_id != handle.first_execution_run_id
        await fresh.signal(ParityUnfinishedUpdate.done)
        await fresh.result()


@pytest.mark.parametrize("reuse", [WorkflowIDReusePolicy.ALLOW_DUPLICATE, WorkflowIDReusePolicy.REJECT_DUPLICATE])
async def test_update_with_start_does_not_attach_to_an_update_the_close_left_unfinished(
    client: Client, reuse: WorkflowIDReusePolicy
) -> None:
    """An update accepted and left unfinished by a run's close has no
    outcome in history: update-with-start with its id is a new start, which
    the id reuse policy allows (the update runs on the new run) or refuses."""
    from temporalio.exceptions import WorkflowAlreadyStartedError

    queue = f"parity-{uuid.uuid4()}"
    workflow_id = f"parity-uws-closed-{uuid.uuid4()}"

    def start_op() -> WithStartWorkflowOperation:
        return WithStartWorkflowOperation(
            ParityUnfinishedUpdate.run,
            id=workflow_id,
            task_queue=queue,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            id_reuse_policy=reuse,
        )

    async with Worker(client, task_queue=queue, workflows=[ParityUnfinishedUpdate]):
        first = start_op()
        await client.start_update_with_start_workflow(
            ParityUnfinishedUpdate.never_done,
            id="shared",
            start_workflow_operation=first,
            wait_for_stage=WorkflowUpdateStage.ACCEPTED,
        )
        handle = await first.workflow_handle()
        await handle.signal(ParityUnfinishedUpdate.done)
        await handle.result()
        again = start_op()
        if reuse == WorkflowIDReusePolicy.REJECT_DUPLICATE:
            with pytest.raises(WorkflowAlreadyStartedError):
                await client.start_update_with_start_workflow(
                    ParityUnfinishedUpdate.never_done,
                    id="shared",
                    start_workflow_operation=again,
                    wait_for_stage=WorkflowUpdateStage.ACCEPTED,
                )
            with pytest.raises(WorkflowAlreadyStartedError):
                await again.workflow_handle()
            return
        await client.start_update_with_start_workflow(
            ParityUnfinishedUpdate.never_done,
            id="shared",
            start_workflow_operation=again,
            wait_for_stage=WorkflowUpdateStage.ACCEPTED,
        )
        fresh = await again.workflow_handle()
        assert fresh.first_execution_run_id != handle.first_execution_run_id
        await fresh.signal(ParityUnfinishedUpdate.done)
        await fresh.result()


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("(" * 2000 + "WorkflowId = 'a'" + ")" * 2000, "max nesting level reached"),
        ("NOT " * 10_000 + "WorkflowId = 'a'", "max nesting level reached"),
        (" OR ".join(["WorkflowId = 'a'"] * 10_000), "max ast depth reached"),
    ],
    ids=["deep-parentheses", "many-nots", "long-or-chain"],
)
async def test_hostile_queries_are_refused_as_on_temporal(client: Client, query: str, message: str) -> None:
    """Queries that once overflowed a stack: refused with Temporal's own
    messages (these pass against Temporal's dev server too)."""
    with pytest.raises(RPCError) as err:
        async for _ in client.list_workflows(query):
            pass
    assert err.value.status == RPCStatusCode.INVALID_ARGUMENT
    assert message in err.value.message
    # Still serving, and just inside the limits.
    async for _ in client.list_workflows("(" * 199 + "WorkflowId = 'a'" + ")" * 199):
        pass
    async for _ in client.list_workflows(" OR ".join(["WorkflowId = 'a'"] * 995)):
        pass


async def wait_for_first_task(handle) -> None:
    for _ in range(200):
        history = await handle.fetch_history()
        if any(e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED for e in history.events):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the first workflow task never completed")


async def test_query_with_no_worker_then_restart_moves_on(client: Client) -> None:
    """A query with nobody polling fails at the caller's own deadline
    (client-side, so CANCELLED); a new worker then takes the signal and
    the workflow completes well within its execution timeout."""
    queue = f"parity-{uuid.uuid4()}"
    async with Worker(client, task_queue=queue, workflows=[ParityUnfinishedUpdate]):
        handle = await client.start_workflow(
            ParityUnfinishedUpdate.run,
            id=f"parity-liveness-{uuid.uuid4()}",
            task_queue=queue,
            execution_timeout=timedelta(minutes=1),
        )
        await wait_for_first_task(handle)
    with pytest.raises(RPCError) as err:
        await handle.query(ParityUnfinishedUpdate.simple_query, rpc_timeout=timedelta(seconds=1))
    assert err.value.status == RPCStatusCode.CANCELLED, err.value
    async with Worker(client, task_queue=queue, workflows=[ParityUnfinishedUpdate]):
        await handle.signal(ParityUnfinishedUpdate.done)
        assert await asyncio.wait_for(handle.result(), 20) == "finished"


# Set by the test once its update is admitted; the first run's first task
# blocks on it, so the update arrives while that task is in flight.
UNBLOCK_FIRST_TASK = threading.Event()


@workflow.defn(sandboxed=False)
class ParityContinueWithUpdate:
    def __init__(self) -> None:
        self.finish = False

    @workflow.run
    async def run(self, first: bool) -> str:
        if first:
            UNBLOCK_FIRST_TASK.wait(20)
            workflow.continue_as_new(False)
        await workflow.wait_condition(lambda: self.finish)
        return "done"

    @workflow.update
    def which_run(self) -> str:
        return workflow.info().run_id

    @workflow.signal
    def done(self) -> None:
        self.finish = True


async def update_admitted(client: Client, workflow_id: str, update_id: str) -> bool:
    try:
        await client.workflow_service.poll_workflow_execution_update(
            PollWorkflowExecutionUpdateRequest(
                namespace=client.namespace,
                update_ref=UpdateRef(
                    workflow_execution=WorkflowExecution(workflow_id=workflow_id), update_id=update_id
                ),
            )
        )
        return True
    except RPCError as e:
        if e.status == RPCStatusCode.NOT_FOUND:
            return False
        raise


def admit_update_then_unblock(address: str, workflow_id: str, out: list) -> None:
    """From its own thread and event loop (the first task blocks the
    worker's): waits for that task to start, sends the update, waits until
    it is admitted, then lets the task continue-as-new."""

    async def run() -> None:
        client = await Client.connect(address)
        handle = client.get_workflow_handle(workflow_id)
        try:
            for _ in range(400):
                events = (await handle.fetch_history()).events
                if any(e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED for e in events):
                    break
                await asyncio.sleep(0.025)
            update = asyncio.create_task(handle.execute_update(ParityContinueWithUpdate.which_run, id="update-id"))
            for _ in range(400):
                if await update_admitted(client, workflow_id, "update-id"):
                    break
                await asyncio.sleep(0.025)
            else:
                raise AssertionError("the update was never admitted")
            UNBLOCK_FIRST_TASK.set()
            out.append(await asyncio.wait_for(update, 30))
        except BaseException as e:
            out.append(e)
        finally:
            UNBLOCK_FIRST_TASK.set()

    asyncio.run(run())


async def test_update_admitted_during_a_task_that_continues_as_new_lands_on_the_new_run(
    client: Client, chronicle_server: str
) -> None:
    """Admitted updates do not block continue-as-new: the caller is told to
    retry, and its retry lands on the new run (its events only there)."""
    UNBLOCK_FIRST_TASK.clear()
    queue = f"parity-{uuid.uuid4()}"
    workflow_id = f"parity-can-update-{uuid.uuid4()}"
    out: list = []
    async with Worker(client, task_queue=queue, workflows=[ParityContinueWithUpdate], debug_mode=True):
        handle = await client.start_workflow(ParityContinueWithUpdate.run, True, id=workflow_id, task_queue=queue)
        sender = threading.Thread(target=admit_update_then_unblock, args=(chronicle_server, workflow_id, out))
        sender.start()
        await asyncio.to_thread(sender.join, 60)
        assert len(out) == 1 and isinstance(out[0], str), out
        assert out[0] != handle.first_execution_run_id, "expected the update to run on the post-CAN run"
        first = await client.get_workflow_handle(workflow_id, run_id=handle.first_execution_run_id).fetch_history()
        assert not any(
            e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED for e in first.events
        ), "no update events on the first run"
        assert first.events[-1].event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
        latest = client.get_workflow_handle(workflow_id)
        await latest.signal(ParityContinueWithUpdate.done)
        assert await latest.result() == "done"


@workflow.defn
class ParitySlowUpdate:
    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: False)

    @workflow.update
    async def slow(self) -> None:
        await asyncio.sleep(1000)


async def test_update_waits_end_at_the_callers_deadline(client: Client) -> None:
    """An update wait is held until the caller's own deadline (the SDK
    raises its timeout error), not answered empty just before it."""
    handle = await client.start_workflow(
        ParitySlowUpdate.run, id=f"parity-update-timeout-{uuid.uuid4()}", task_queue=f"does-not-exist-{uuid.uuid4()}"
    )
    with pytest.raises(WorkflowUpdateRPCTimeoutOrCancelledError):
        await handle.start_update(
            ParitySlowUpdate.slow, wait_for_stage=WorkflowUpdateStage.ACCEPTED, rpc_timeout=timedelta(milliseconds=1)
        )
    await handle.terminate()

    queue = f"parity-{uuid.uuid4()}"
    async with Worker(client, task_queue=queue, workflows=[ParitySlowUpdate]):
        handle = await client.start_workflow(ParitySlowUpdate.run, id=f"parity-update-poll-{uuid.uuid4()}", task_queue=queue)
        update = await handle.start_update(ParitySlowUpdate.slow, wait_for_stage=WorkflowUpdateStage.ACCEPTED)
        for timeout in (timedelta(milliseconds=1), timedelta(seconds=1)):
            with pytest.raises(WorkflowUpdateRPCTimeoutOrCancelledError):
                await asyncio.wait_for(update.result(rpc_timeout=timeout), 10)
        # The run is still usable.
        await handle.terminate()


@activity.defn
def parity_sync_heartbeater(n: int) -> int:
    # Heartbeats while it works, and returns soon: a cancel may reach the
    # worker just after it returned.
    for _ in range(4):
        activity.heartbeat(n)
        time.sleep(0.05)
    return n


@workflow.defn
class ParityCancelAfterReturn:
    @workflow.run
    async def run(self) -> list[str]:
        seen = []
        for i in range(3):
            handle = workflow.start_activity(
                parity_sync_heartbeater,
                i,
                start_to_close_timeout=timedelta(seconds=10),
                heartbeat_timeout=timedelta(seconds=2),
                cancellation_type=workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
            )
            await workflow.sleep(0.18)
            handle.cancel()
            try:
                seen.append(f"done {await handle}")
            except ActivityError as e:
                seen.append(type(e.cause).__name__)
        # The pool's only thread is free again.
        seen.append(
            f"after {await workflow.execute_activity(parity_sync_heartbeater, 9, start_to_close_timeout=timedelta(seconds=10))}"
        )
        return seen


async def test_cancel_around_a_sync_activity_return_leaves_the_pool_usable(client: Client) -> None:
    """Cancels that reach a thread-pool activity around the moment it
    returns: the server's answers to its heartbeats and completion (as
    Temporal's) leave the one-thread pool free for the next activity."""
    queue = f"parity-{uuid.uuid4()}"
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        async with Worker(
            client,
            task_queue=queue,
            workflows=[ParityCancelAfterReturn],
            activities=[parity_sync_heartbeater],
            activity_executor=pool,
        ):
            result = await asyncio.wait_for(
                client.execute_workflow(
                    ParityCancelAfterReturn.run, id=f"parity-cancel-return-{uuid.uuid4()}", task_queue=queue
                ),
                30,
            )
    assert result[-1] == "after 9", result
    assert all(r.startswith("done") or r == "CancelledError" for r in result[:-1]), result


async def test_list_pages_and_task_queue_names_are_bounded_as_on_temporal(client: Client) -> None:
    """A list page defaults to and is capped at 1,000 runs (Temporal's
    `frontend.visibilityMaxPageSize`); a task queue name past 1,000 bytes is
    InvalidArgument on start and on poll."""
    from temporalio.api.taskqueue.v1 import TaskQueue
    from temporalio.api.workflowservice.v1 import ListWorkflowExecutionsRequest, PollWorkflowTaskQueueRequest

    queue = f"parity-pages-{uuid.uuid4()}"
    await asyncio.gather(*[client.start_workflow("Unpolled", id=f"{queue}-{i}", task_queue=queue) for i in range(1005)])
    for _ in range(100):  # Temporal's visibility is eventually consistent
        if (await client.count_workflows(f"TaskQueue = '{queue}'")).count == 1005:
            break
        await asyncio.sleep(0.1)
    for page_size in (0, 1001, 5000):
        page = await client.workflow_service.list_workflow_executions(
            ListWorkflowExecutionsRequest(namespace=client.namespace, page_size=page_size, query=f"TaskQueue = '{queue}'")
        )
        assert len(page.executions) == 1000, page_size
        assert page.next_page_token
    with pytest.raises(RPCError) as err:
        await client.start_workflow("Unpolled", id=f"{queue}-long", task_queue="q" * 1001)
    assert err.value.status == RPCStatusCode.INVALID_ARGUMENT
    assert "taskQueue length exceeds limit" in err.value.message
    with pytest.raises(RPCError) as err:
        await client.workflow_service.poll_workflow_task_queue(
            PollWorkflowTaskQueueRequest(namespace=client.namespace, task_queue=TaskQueue(name="q" * 1001)),
            timeout=timedelta(seconds=5),
        )
    assert err.value.status == RPCStatusCode.INVALID_ARGUMENT
