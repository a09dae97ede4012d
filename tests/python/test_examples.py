"""The pattern examples in examples/ run as end-to-end tests: each Python example's main(client)
against the test server, examples/python/run_all.py as a process, and the Rust example binary
(`cargo build -p chronicle-examples`; CHRONICLE_EXAMPLES_BIN or $CARGO_TARGET_DIR/debug)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLES_PY = REPO_ROOT / "examples" / "python"
sys.path.insert(0, str(EXAMPLES_PY))

import child_workflows  # noqa: E402
import continue_as_new  # noqa: E402
import dynamic_selection  # noqa: E402
import saga  # noqa: E402

PROCESS_TIMEOUT_S = 300
STARTED = EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED


def _event_types(history) -> list[EventType.ValueType]:
    return [e.event_type for e in history.events]


async def _history(client: Client, workflow_id: str, run_id: str | None = None):
    return await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()


# ------------------------------------------------------------------------------------------------
# Assertions shared by the Python and Rust examples (results as plain JSON-like values)
# ------------------------------------------------------------------------------------------------


def check_children(results: list[dict], items: list[str]) -> None:
    assert [r["item"] for r in results] == items, results
    assert [r["result"] for r in results] == [i.upper() for i in items], results
    for r in results:
        assert r["workflow_id"].endswith(f"-process-{r['item']}"), r


async def check_continue_as_new_chain(client: Client, workflow_id: str, runs: list[dict]) -> None:
    """5 runs, 5+5+5+5+3 batches; each run but the last ends in WorkflowExecutionContinuedAsNew
    naming the next run."""
    assert [r["status"] for r in runs] == ["CONTINUED_AS_NEW"] * 4 + ["COMPLETED"], runs
    for i, run in enumerate(runs):
        history = await _history(client, workflow_id, run["run_id"])
        types = _event_types(history)
        activities = types.count(EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED)
        assert activities == (5 if i < 4 else 3), (i, activities)
        if i < 4:
            assert types[-1] == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW, (i, types)
            attrs = history.events[-1].workflow_execution_continued_as_new_event_attributes
            assert attrs.new_execution_run_id == runs[i + 1]["run_id"], (i, attrs)
        else:
            assert types[-1] == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED, types


def check_routing(results: dict[str, dict], default_handler: str) -> None:
    assert {k: v["handled_by"] for k, v in results.items()} == {
        "order": "OrderWorkflow",
        "refund": "RefundWorkflow",
        "subscription": "SubscriptionWorkflow",
        "gift-card": default_handler,
    }, results
    assert all(v["payload"] == f"{k} #42" for k, v in results.items()), results


def check_saga(outcome: dict) -> None:
    assert outcome["compensated"] == ["cancel_car", "cancel_hotel", "cancel_flight"], outcome
    assert len(outcome["booked"]) == 2, outcome
    assert outcome["booked"][0].startswith("flight for"), outcome
    assert outcome["booked"][1].endswith("(succeeded on attempt 3)"), outcome
    assert "no unavailable car" in outcome["error"], outcome


# ------------------------------------------------------------------------------------------------
# Python examples
# ------------------------------------------------------------------------------------------------


async def test_child_workflows(client: Client) -> None:
    items = ["apple", "banana", "cherry"]
    # Two parents with the same items at once: child ids are scoped by the parent's id.
    first, second = await asyncio.gather(child_workflows.main(client, items), child_workflows.main(client, items))
    check_children(first, items)
    check_children(second, items)
    assert {r["workflow_id"] for r in first}.isdisjoint(r["workflow_id"] for r in second)


async def test_continue_as_new(client: Client) -> None:
    result = await continue_as_new.main(client)
    assert result["state"] == continue_as_new.WorkflowState(total_batches=23, current_batch=23, max_iterations=5)
    runs = result["runs"]
    assert len(runs) == 5, runs
    assert runs[0]["run_id"] == result["first_run_id"]
    await check_continue_as_new_chain(client, result["workflow_id"], runs)


async def test_dynamic_selection(client: Client) -> None:
    results = await dynamic_selection.main(client)
    assert all(isinstance(r, dynamic_selection.Result) for r in results.values()), results
    check_routing({k: vars(v) for k, v in results.items()}, "dynamic handler for DefaultWorkflow")


async def test_saga_compensates_in_reverse(client: Client) -> None:
    trip_id = f"trip-{uuid.uuid4().hex[:8]}"
    outcome = await saga.main(client, trip_id=trip_id)
    assert isinstance(outcome, saga.SagaOutcome), outcome
    check_saga(vars(outcome))

    history = await _history(client, trip_id)
    assert _event_types(history)[-1] == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED
    scheduled = {
        e.event_id: e.activity_task_scheduled_event_attributes.activity_type.name
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    }
    assert list(scheduled.values()) == [
        "reserve_flight",
        "reserve_hotel",
        "reserve_car",
        "cancel_car",
        "cancel_hotel",
        "cancel_flight",
    ]
    # Retries write no events; ActivityTaskStarted records the attempt that finished.
    started = [e.activity_task_started_event_attributes for e in history.events if e.event_type == STARTED]
    attempts = {scheduled[a.scheduled_event_id]: a.attempt for a in started}
    assert attempts["reserve_hotel"] == 3, attempts
    assert attempts["reserve_car"] == 1, attempts  # non-retryable: no retries


async def test_saga_succeeds_when_every_step_does(client: Client) -> None:
    booked = await saga.main(client, car_class="economy")
    assert isinstance(booked, list) and len(booked) == 3, booked
    assert booked[1].endswith("(succeeded on attempt 3)") and booked[2].startswith("car for"), booked


def test_run_all_script(chronicle_server: str) -> None:
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES_PY / "run_all.py"), "--address", chronicle_server],
        capture_output=True,
        text=True,
        timeout=PROCESS_TIMEOUT_S,
    )
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    assert "4/4 examples passed" in proc.stdout, proc.stdout


# ------------------------------------------------------------------------------------------------
# Rust examples
# ------------------------------------------------------------------------------------------------


def _examples_bin() -> Path:
    env = os.environ.get("CHRONICLE_EXAMPLES_BIN")
    if env:
        return Path(env)
    return Path(os.environ.get("CARGO_TARGET_DIR", "/var/tmp/chronicle-target")) / "debug" / "chronicle-examples"


def _parse_results(stdout: str) -> dict[str, object]:
    """{pattern: result} from the `== pattern` / `  result: <json>` lines."""
    results: dict[str, object] = {}
    pattern = None
    for line in stdout.splitlines():
        if line.startswith("== "):
            pattern = line[3:].strip()
        elif line.startswith("  result: ") and pattern:
            results[pattern] = json.loads(line[len("  result: ") :])
    return results


async def test_rust_examples(chronicle_server: str, client: Client) -> None:
    binary = _examples_bin()
    if not binary.exists():
        pytest.fail(
            f"Rust examples binary not found at {binary}; build it with `cargo build -p chronicle-examples` "
            f"or set CHRONICLE_EXAMPLES_BIN",
            pytrace=False,
        )
    proc = await asyncio.create_subprocess_exec(
        str(binary),
        "--address",
        chronicle_server,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), PROCESS_TIMEOUT_S)
    stdout, stderr = out.decode(), err.decode()
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout:\n{stdout}\nstderr:\n{stderr}"
    results = _parse_results(stdout)
    assert set(results) == {"child_workflows", "continue_as_new", "dynamic_selection", "saga"}, stdout

    check_children(results["child_workflows"], ["apple", "banana", "cherry"])

    can = results["continue_as_new"]
    assert can["state"] == {"total_batches": 23, "current_batch": 23, "max_iterations": 5}, can
    # The Rust client's status enum prints as ContinuedAsNew/Completed.
    rust_status = {"ContinuedAsNew": "CONTINUED_AS_NEW", "Completed": "COMPLETED"}
    runs = [{**r, "status": rust_status.get(r["status"], r["status"])} for r in can["runs"]]
    assert len(runs) == 5, runs
    await check_continue_as_new_chain(client, can["workflow_id"], runs)

    # temporalio-sdk 1.1 has no dynamic workflows: DefaultWorkflow is registered by name.
    check_routing(results["dynamic_selection"], "DefaultWorkflow")
    check_saga(results["saga"])
