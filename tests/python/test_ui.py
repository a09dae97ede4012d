"""The web UI (`--ui-port`), read over HTTP as a browser would fetch it: the workflow list and
its search (a plain id, a filter, a malformed filter), a workflow's history page and its JSON
download, and user-supplied strings shown as text, never run."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

from temporalio import activity, workflow

with workflow.unsafe.imports_passed_through():
    import pytest
    from temporalio.client import Client
    from temporalio.worker import Worker

    from conftest import SERVERS, _external_addresses

CHRONICLE_SERVER_ARGS = ["--ui-port", "0"]
UI_RE = re.compile(r"Chronicle UI at (https?://\S+)")

pytestmark = pytest.mark.skipif(
    bool(_external_addresses()), reason="an external server: its UI address is not known here"
)


@activity.defn
async def greet(name: str) -> str:
    return f"Hello, {name}!"


@workflow.defn
class UiWorkflow:
    def __init__(self) -> None:
        self.note = ""

    @workflow.run
    async def run(self, name: str) -> str:
        greeting = await workflow.execute_activity(greet, name, start_to_close_timeout=timedelta(seconds=10))
        await workflow.wait_condition(lambda: self.note != "")
        return f"{greeting} {self.note}"

    @workflow.signal
    def leave(self, note: str) -> None:
        self.note = note

    @workflow.query
    def current(self) -> str:
        return self.note or "(no note yet)"

    @workflow.update
    def shout(self, word: str) -> str:
        return word.upper() + "!"


@workflow.defn
class UiChild:
    @workflow.run
    async def run(self, n: int) -> int:
        return n * 2


@workflow.defn
class UiFamily:
    """Starts a child, then continues as new once: a run with a child, a previous and a next run."""

    @workflow.run
    async def run(self, round: int) -> int:
        doubled = await workflow.execute_child_workflow(UiChild.run, round + 1, id=f"{workflow.info().workflow_id}-child-{round}")
        if round == 0:
            workflow.continue_as_new(1)
        return doubled


@pytest.fixture
def ui(chronicle_server: str) -> str:
    lines = SERVERS[chronicle_server].output
    for line in lines:
        m = UI_RE.search(line)
        if m:
            return m.group(1)
    raise AssertionError("the server did not print its UI address:\n" + "\n".join(lines))


def get(url: str, timeout: float = 10) -> tuple[int, str, dict[str, str]]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            return answer.status, answer.read().decode(), {k.lower(): v for k, v in answer.headers.items()}
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode(), {k.lower(): v for k, v in err.headers.items()}


def workflows_url(ui: str, query: str = "") -> str:
    url = f"{ui}/namespaces/default/workflows"
    return f"{url}?query={urllib.parse.quote(query)}" if query else url


@contextlib.contextmanager
def own_start_dev(*args: str) -> Iterator[tuple[str | None, str]]:
    """A `start-dev` of the test's own (in memory, a free gRPC port) with `args`: its UI address
    (None if it printed none) and what it printed up to its gRPC line; stopped on exit."""
    import subprocess

    from conftest import _chronicle_bin

    proc = subprocess.Popen(
        [str(_chronicle_bin()), "server", "start-dev", "--in-memory", "--port", "0", *args],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        for line in proc.stdout:
            lines.append(line)
            if "gRPC listening" in line:
                break
        text = "".join(lines)
        m = UI_RE.search(text)
        yield (m.group(1) if m else None), text
    finally:
        proc.terminate()
        proc.wait(10)


async def run_one(client: Client, workflow_id: str, note: str) -> str:
    tq = f"ui-{uuid.uuid4()}"
    async with Worker(client, task_queue=tq, workflows=[UiWorkflow], activities=[greet]):
        handle = await client.start_workflow(UiWorkflow.run, "Ada", id=workflow_id, task_queue=tq)
        await handle.signal(UiWorkflow.leave, note)
        return await handle.result()


async def test_the_list_finds_a_workflow_by_id_and_by_filter(client: Client, ui: str) -> None:
    first, second = f"ui-a-{uuid.uuid4()}", f"ui-b-{uuid.uuid4()}"
    await run_one(client, first, "one")
    await run_one(client, second, "two")

    status, body, _ = get(workflows_url(ui))
    assert status == 200 and first in body and second in body
    assert "Completed (" in body, "counts per status"

    status, body, _ = get(workflows_url(ui, first))
    assert status == 200 and first in body and second not in body, "a plain id finds that workflow"

    assert "?query=WorkflowType%20%3D%20%27UiWorkflow%27" in body, "a run's type links to the runs of that type"

    status, body, _ = get(workflows_url(ui, f"WorkflowId = '{second}' AND WorkflowType = 'UiWorkflow'"))
    assert status == 200 and second in body and first not in body, "a filter in Temporal's language"

    status, body, _ = get(workflows_url(ui, "WorkflowId = "))
    assert status == 400 and "Error 400" in body, "a malformed filter says so"

    status, body, _ = get(f"{ui}/namespaces/no-such-namespace/workflows")
    assert status == 404 and "no-such-namespace" in body

    status, body, headers = get(f"{ui}/")
    assert status == 200 and "<h1>Workflows</h1>" in body, "the root opens the default namespace's list"
    # No script may run, no other site may frame the pages.
    assert "default-src 'none'" in headers.get("content-security-policy", ""), headers
    assert headers.get("x-frame-options") == "DENY", headers


async def test_a_workflow_page_shows_its_history_and_downloads_it(client: Client, ui: str) -> None:
    workflow_id = f"ui-h-{uuid.uuid4()}"
    assert await run_one(client, workflow_id, "bye") == "Hello, Ada! bye"
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    run_id = history.events[0].workflow_execution_started_event_attributes.original_execution_run_id

    status, body, _ = get(f"{ui}/namespaces/default/workflows/{workflow_id}")
    assert status == 200 and run_id in body, "a workflow id alone opens its latest run"
    page = f"{ui}/namespaces/default/workflows/{workflow_id}/{run_id}/history"
    status, body, _ = get(page)
    assert status == 200
    for expected in ["WorkflowExecutionStarted", "ActivityTaskCompleted", "WorkflowExecutionSignaled",
                     "WorkflowExecutionCompleted", "Completed", "UiWorkflow"]:
        assert expected in body, expected
    assert "Hello, Ada! bye" in body, "the result as its JSON text"
    summary = body[body.index('<dl class="summary">'):body.index("</dl>")]
    assert "<dt>Input</dt>" in summary and "Ada" in summary and "<dt>Result</dt>" in summary, summary
    assert "<dt>Took</dt>" in summary, summary
    assert 'class="tl tl-activity"' in body and 'href="#event-1"' in body, "the timeline links its events"

    status, body, _ = get(page + "?type=ActivityTaskScheduled")
    assert status == 200 and "ActivityTaskScheduled" in body and "WorkflowExecutionSignaled" not in body

    status, body, headers = get(page.removesuffix("/history") + "/history.json")
    assert status == 200 and "attachment" in headers.get("content-disposition", "")
    events = json.loads(body)["events"]
    assert [int(e["eventId"]) for e in events] == list(range(1, len(history.events) + 1))
    assert events[0]["eventType"] in ("EVENT_TYPE_WORKFLOW_EXECUTION_STARTED", "WorkflowExecutionStarted")

    status, body, _ = get(f"{ui}/namespaces/default/workflows/no-such-workflow/x/history")
    assert status in (400, 404) and "Error" in body


async def test_user_strings_are_shown_as_text(client: Client, ui: str) -> None:
    workflow_id = f"<script>alert('id')</script>-{uuid.uuid4()}"
    note = "<img src=x onerror=alert('note')>"
    await run_one(client, workflow_id, note)
    status, body, _ = get(workflows_url(ui))
    assert status == 200
    assert "<script>alert" not in body and "&lt;script&gt;alert" in body
    status, body, _ = get(workflows_url(ui, workflow_id))
    assert status == 200 and "&lt;script&gt;alert" in body and "<script>alert" not in body
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    run_id = history.events[0].workflow_execution_started_event_attributes.original_execution_run_id
    status, body, _ = get(
        f"{ui}/namespaces/default/workflows/{urllib.parse.quote(workflow_id, safe='')}/{run_id}/history"
    )
    assert status == 200, body
    assert "<img src=x" not in body and "&lt;img src=x onerror" in body


async def test_in_a_browser_search_opens_the_history_without_script_errors(client: Client, ui: str) -> None:
    """Chromium (Debian's, via Playwright): the list page, a search typed into its box, the
    workflow's link, its history page; no page logs a JavaScript error or fails to load a part."""
    import os
    import shutil

    from playwright.async_api import async_playwright

    chromium = os.environ.get("CHRONICLE_CHROMIUM") or shutil.which("chromium")
    if not chromium:
        pytest.fail("chromium not found: install Debian's chromium (scripts/test.sh does) or set CHRONICLE_CHROMIUM")
    workflow_id = f"ui-browser-{uuid.uuid4()}"
    await run_one(client, workflow_id, "seen")
    problems: list[str] = []
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = await browser.new_page()
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
            page.on("requestfailed", lambda r: problems.append(f"failed to load {r.url}"))
            await page.goto(f"{ui}/")
            assert await page.title() == "Workflows · Chronicle"
            await page.fill("#query", workflow_id)
            await page.press("#query", "Enter")
            await page.wait_for_load_state()
            assert workflow_id in await page.inner_text("table")
            await page.click(f"text={workflow_id}")
            await page.wait_for_load_state()
            assert "/history" in page.url
            history_url = page.url
            assert "WorkflowExecutionCompleted" in await page.inner_text("table")
            # Keyboard: the search box is reachable from the top of the list page.
            await page.goto(f"{ui}/namespaces/default/workflows")
            for _ in range(12):
                await page.keyboard.press("Tab")
                if await page.evaluate("document.activeElement && document.activeElement.id") == "query":
                    break
            else:
                raise AssertionError("the search box is not reachable with Tab")
            # A narrow window (a phone, or 200 % zoom of a small one): nothing wider than the
            # window but the tables, which scroll inside their own box.
            await page.set_viewport_size({"width": 360, "height": 740})
            for url in (f"{ui}/namespaces/default/workflows", history_url):
                await page.goto(url)
                overflow = await page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
                assert overflow <= 0, f"{url} is {overflow}px wider than a 360px window"
        finally:
            await browser.close()
    assert not problems, problems


TIMER_ROUNDS = 4
TIMERS_PER_ROUND = 6250


@workflow.defn(sandboxed=False)
class UiLongHistory:
    """50,000 events and more: each timer is a TimerStarted and a TimerFired."""

    @workflow.run
    async def run(self) -> int:
        for _ in range(TIMER_ROUNDS):
            await asyncio.gather(*(asyncio.sleep(0.001) for _ in range(TIMERS_PER_ROUND)))
        return TIMER_ROUNDS * TIMERS_PER_ROUND


async def test_in_a_browser_a_50000_event_history_opens_and_pages(client: Client, ui: str) -> None:
    """The history page of a 50,000-event run opens at once (one page of the newest events is
    read and sent, not the whole history), scrolls, pages back, and logs no script error; the
    JSON download holds every event. The first view's time is printed for the benchmark note."""
    import os
    import shutil
    import time

    from playwright.async_api import async_playwright

    chromium = os.environ.get("CHRONICLE_CHROMIUM") or shutil.which("chromium")
    if not chromium:
        pytest.fail("chromium not found: install Debian's chromium (scripts/test.sh does) or set CHRONICLE_CHROMIUM")
    tq = f"ui-long-{uuid.uuid4()}"
    async with Worker(client, task_queue=tq, workflows=[UiLongHistory], debug_mode=True):
        handle = await client.start_workflow(
            UiLongHistory.run, id=f"ui-long-{uuid.uuid4()}", task_queue=tq, task_timeout=timedelta(seconds=60)
        )
        assert await asyncio.wait_for(handle.result(), 240) == TIMER_ROUNDS * TIMERS_PER_ROUND
    described = await handle.describe()
    length = described.raw_description.workflow_execution_info.history_length
    assert length > 50_000, length
    page_url = f"{ui}/namespaces/default/workflows/{handle.id}/{described.run_id}/history"
    problems: list[str] = []
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = await browser.new_page()
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
            began = time.monotonic()
            await page.goto(page_url)
            opened_s = time.monotonic() - began
            timing = await page.evaluate(
                "(() => { const n = performance.getEntriesByType('navigation')[0];"
                " return {response: n.responseEnd, loaded: n.loadEventEnd}; })()"
            )
            print(f"\n50,000-event history: first view in {opened_s * 1000:.0f} ms (navigation: response "
                  f"{timing['response']:.0f} ms, load {timing['loaded']:.0f} ms)", flush=True)
            rows = await page.locator("tbody tr").count()
            assert rows == 100, rows
            assert f"event-{length}" in await page.inner_html("tbody"), "the newest event first"
            await page.mouse.wheel(0, 20_000)
            await page.keyboard.press("End")
            for _ in range(3):
                await page.click("text=Older events")
                await page.wait_for_load_state()
            assert f"event-{length - 300}" in await page.inner_html("tbody"), "three pages older"
        finally:
            await browser.close()
    assert not problems, problems
    status, body, _ = await asyncio.to_thread(get, page_url.removesuffix("/history") + "/history.json", 120)
    assert status == 200 and len(json.loads(body)["events"]) == length


def post(url: str, fields: dict[str, str]) -> tuple[int, str]:
    data = urllib.parse.urlencode(fields).encode()
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data, method="POST"), timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


async def test_actions_confirm_need_the_forms_token_and_change_the_run(client: Client, ui: str) -> None:
    from temporalio.client import WorkflowExecutionStatus

    tq = f"ui-act-{uuid.uuid4()}"
    async with Worker(client, task_queue=tq, workflows=[UiWorkflow], activities=[greet]):
        signalled = await client.start_workflow(UiWorkflow.run, "Ada", id=f"ui-sig-{uuid.uuid4()}", task_queue=tq)
        ended = await client.start_workflow(UiWorkflow.run, "Bob", id=f"ui-term-{uuid.uuid4()}", task_queue=tq)
        runs = {h.id: (await h.describe()).run_id for h in (signalled, ended)}
        base = f"{ui}/namespaces/default/workflows"

        status, body, _ = get(f"{base}/{signalled.id}/{runs[signalled.id]}/history")
        assert status == 200 and "/signal" in body and "/terminate" in body, "a running run offers its actions"
        status, body, _ = get(f"{base}/{signalled.id}/{runs[signalled.id]}/signal")
        assert status == 200 and "Confirm: signal" in body
        token = re.search(r'name="csrf" value="([0-9a-f]+)"', body)
        assert token, body
        action = f"{base}/{signalled.id}/{runs[signalled.id]}/signal"

        status, body = post(action, {"name": "leave", "input": '"via the UI"'})
        assert status == 403 and "CSRF" in body, "no token, no action"
        status, body = post(action, {"csrf": token.group(1), "name": "leave", "input": "{not json"})
        assert status == 400 and "not JSON" in body
        status, body = post(action, {"csrf": token.group(1), "name": "leave", "input": '"via the UI"'})
        assert status == 200 and "history" in body.lower(), "back on the run's page"
        assert await signalled.result() == "Hello, Ada! via the UI"

        cancelled = await client.start_workflow(UiWorkflow.run, "Cal", id=f"ui-cancel-{uuid.uuid4()}", task_queue=tq)
        cancel = f"{base}/{cancelled.id}/{(await cancelled.describe()).run_id}/cancel"
        status, body = post(cancel, {"csrf": token.group(1)})
        assert status == 200
        for _ in range(100):  # the request is buffered while a workflow task is in flight
            if (await cancelled.describe()).status == WorkflowExecutionStatus.CANCELED:
                break
            await asyncio.sleep(0.1)
        assert (await cancelled.describe()).status == WorkflowExecutionStatus.CANCELED

        terminate = f"{base}/{ended.id}/{runs[ended.id]}/terminate"
        status, body = post(terminate, {"csrf": token.group(1), "reason": "<b>done</b> from the UI"})
        assert status == 200 and "&lt;b&gt;done&lt;/b&gt; from the UI" in body and "<b>done</b>" not in body
        described = await ended.describe()
        assert described.status == WorkflowExecutionStatus.TERMINATED
        history = await ended.fetch_history()
        attrs = history.events[-1].workflow_execution_terminated_event_attributes
        assert attrs.reason == "<b>done</b> from the UI" and attrs.identity == "chronicle-web-ui"

        # Reset the signalled (completed) run to its first workflow task: a new run replays it,
        # with the signal applied again, and the UI shows the new run.
        reset = f"{base}/{signalled.id}/{runs[signalled.id]}/reset"
        status, body, _ = get(reset)
        assert status == 200 and "First workflow task" in body and "Confirm: reset" in body
        status, body = post(reset, {"csrf": token.group(1), "point": "event", "event_id": "x", "reason": "r"})
        assert status == 400 and "not a number" in body
        status, body = post(reset, {"csrf": token.group(1), "point": "first", "reason": "again from the UI"})
        assert status == 200
        current = client.get_workflow_handle(signalled.id)
        new_run = (await current.describe()).run_id
        assert new_run != runs[signalled.id] and new_run in body, "the new run's page"
        assert await current.result() == "Hello, Ada! via the UI"


async def test_call_stack_task_queue_and_schedules_pages(client: Client, ui: str) -> None:
    from temporalio.client import Schedule, ScheduleActionStartWorkflow, ScheduleIntervalSpec, ScheduleSpec

    tq = f"ui-tq-{uuid.uuid4()}"
    async with Worker(client, task_queue=tq, workflows=[UiWorkflow], activities=[greet], identity="ui-test-worker"):
        handle = await client.start_workflow(UiWorkflow.run, "Cy", id=f"ui-stack-{uuid.uuid4()}", task_queue=tq)
        run_id = (await handle.describe()).run_id
        base = f"{ui}/namespaces/default/workflows/{handle.id}/{run_id}"
        # The worker runs on this event loop: fetch from a thread, so it can answer.
        status, body, _ = await asyncio.to_thread(get, f"{base}/call-stack")
        assert status == 200 and "No call stack" not in body and "workflow: UiWorkflow" in body, body[-2000:]
        status, body, _ = await asyncio.to_thread(get, f"{ui}/namespaces/default/task-queues/{tq}")
        assert status == 200 and "ui-test-worker" in body and "Backlog: 0 tasks" in body
        await handle.signal(UiWorkflow.leave, "ok")
        await handle.result()
    schedule_id = f"ui-schedule-{uuid.uuid4()}"
    await client.create_schedule(
        schedule_id,
        Schedule(
            action=ScheduleActionStartWorkflow(UiWorkflow.run, "Dee", id=f"ui-sched-wf-{uuid.uuid4()}", task_queue=tq),
            spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(hours=1))]),
        ),
    )
    status, body, _ = get(f"{ui}/namespaces/default/schedules")
    assert status == 200 and schedule_id in body and "UiWorkflow" in body and "Active" in body
    await client.get_schedule_handle(schedule_id).delete()


async def test_standalone_activities_list_and_page(client: Client, ui: str) -> None:
    tq = f"ui-standalone-{uuid.uuid4()}"
    done_id, waiting_id = f"ui-act-done-{uuid.uuid4()}", f"ui-act-wait-{uuid.uuid4()}"
    async with Worker(client, task_queue=tq, activities=[greet]):
        done = await client.start_activity(greet, "<b>Eve</b>", id=done_id, task_queue=tq, start_to_close_timeout=timedelta(seconds=10))
        await done.result()
    waiting = await client.start_activity("nobody", id=waiting_id, task_queue=tq, start_to_close_timeout=timedelta(seconds=10))
    base = f"{ui}/namespaces/default/activities"
    status, body, _ = get(base)
    assert status == 200 and done_id in body and waiting_id in body and "Completed (" in body
    status, body, _ = get(f"{base}?query={urllib.parse.quote(done_id)}")
    assert status == 200 and done_id in body and waiting_id not in body, "a plain id finds that activity"
    running = f"ExecutionStatus = 'Running' AND TaskQueue = '{tq}'"
    status, body, _ = get(f"{base}?query={urllib.parse.quote(running)}")
    assert status == 200 and waiting_id in body and done_id not in body
    status, body, _ = get(f"{base}/{done_id}/{done.run_id}")
    assert status == 200 and "Completed" in body and "Hello, &lt;b&gt;Eve&lt;/b&gt;!" in body, body[-2000:]
    status, body, _ = get(f"{base}/{waiting_id}")
    assert status == 200 and "Running" in body and "(scheduled)" in body
    # Workflow pages never list them.
    status, body, _ = get(workflows_url(ui, f"TaskQueue = '{tq}'"))
    assert status == 200 and done_id not in body and waiting_id not in body
    status, body, _ = get(f"{base}/no-such-activity")
    assert status == 404
    await waiting.terminate()


def test_no_ui_where_api_keys_guard_the_port(tmp_path: Path) -> None:
    """The UI reads with the server's own authority: with API keys on, `start-dev` serves none
    (and says so), and a UI port asked for explicitly is refused at start."""
    from test_server_config import fails

    keys = tmp_path / "keys"
    keys.write_text("")
    with own_start_dev("--auth-keys", str(keys)) as (_, text):
        assert "gRPC listening" in text and "Chronicle UI at" not in text and "no web UI" in text, text
    out = fails(["server", "start", "--db-filename", str(tmp_path / "k.db"), "--port", "0", "--ui-port", "0",
                 "--auth-keys", str(keys)])
    assert "API keys" in out, out


async def test_query_update_and_start_from_the_ui(client: Client, ui: str) -> None:
    tq = f"ui-qu-{uuid.uuid4()}"
    async with Worker(client, task_queue=tq, workflows=[UiWorkflow], activities=[greet]):
        handle = await client.start_workflow(UiWorkflow.run, "Eve", id=f"ui-qu-{uuid.uuid4()}", task_queue=tq)
        run_id = (await handle.describe()).run_id
        base = f"{ui}/namespaces/default/workflows/{handle.id}/{run_id}"
        status, body, _ = await asyncio.to_thread(get, f"{base}/history")
        assert status == 200 and "/query" in body and "/update" in body
        status, body, _ = await asyncio.to_thread(get, f"{base}/query")
        token = re.search(r'name="csrf" value="([0-9a-f]+)"', body)
        assert status == 200 and token, body
        csrf = token.group(1)

        status, body = await asyncio.to_thread(post, f"{base}/query", {"csrf": csrf, "name": "current"})
        assert status == 200 and "(no note yet)" in body, body[-1500:]
        status, body = await asyncio.to_thread(post, f"{base}/update", {"csrf": csrf, "name": "shout", "input": '"<hi>"'})
        assert status == 200 and "&lt;HI&gt;!" in body, body[-1500:]
        status, body = await asyncio.to_thread(post, f"{base}/update", {"name": "shout", "input": '"x"'})
        assert status == 403, "an update needs the form's token"
        await handle.signal(UiWorkflow.leave, "done")
        assert await handle.result() == "Hello, Eve! done"

        # Start a workflow through the UI's form; the worker runs it.
        started_id = f"ui-started-{uuid.uuid4()}"
        start = f"{ui}/namespaces/default/workflows/start-workflow"
        status, body, _ = await asyncio.to_thread(get, start)
        assert status == 200 and 'name="workflow_type"' in body
        fields = {"csrf": csrf, "workflow_id": started_id, "workflow_type": "UiWorkflow", "task_queue": tq,
                  "input": '"Zed"'}
        status, body = await asyncio.to_thread(post, start, fields)
        assert status == 200 and started_id in body and "UiWorkflow" in body, body[-1500:]
        status, body = await asyncio.to_thread(post, start, fields)
        assert status == 409 and "already" in body.lower(), "the id is taken while it runs"
        started = client.get_workflow_handle(started_id)
        await started.signal(UiWorkflow.leave, "hi")
        assert await started.result() == "Hello, Zed! hi"
        history = await started.fetch_history()
        assert history.events[0].workflow_execution_started_event_attributes.identity == "chronicle-web-ui"


async def test_family_links_and_live_refresh(client: Client, ui: str) -> None:
    tq = f"ui-fam-{uuid.uuid4()}"
    workflow_id = f"ui-fam-{uuid.uuid4()}"
    async with Worker(client, task_queue=tq, workflows=[UiFamily, UiChild]):
        handle = await client.start_workflow(UiFamily.run, 0, id=workflow_id, task_queue=tq)
        first_run = handle.first_execution_run_id or (await handle.describe()).run_id
        assert await client.get_workflow_handle(workflow_id).result() == 4
    last_run = (await client.get_workflow_handle(workflow_id).describe()).run_id
    assert last_run != first_run
    base = f"{ui}/namespaces/default/workflows/{workflow_id}"
    status, body, _ = get(f"{base}/{first_run}/history")
    assert status == 200 and "Continued as" in body and last_run in body, "the first run links to the next"
    assert f"{workflow_id}-child-0" in body, "and to its child"
    status, body, _ = get(f"{base}/{last_run}/history")
    assert status == 200 and "Continued from" in body and first_run in body, "the last run links back"
    assert f"{workflow_id}-child-1" in body
    child = await client.get_workflow_handle(f"{workflow_id}-child-1").describe()
    status, body, _ = get(f"{ui}/namespaces/default/workflows/{workflow_id}-child-1/{child.run_id}/history")
    assert status == 200 and "Parent" in body and last_run in body
    assert 'http-equiv="refresh"' not in body
    status, body, _ = get(f"{base}/{last_run}/history?refresh=on")
    assert status == 200 and 'http-equiv="refresh"' in body and "Stop live refresh" in body
    status, body, _ = get(f"{ui}/namespaces/default/workflows?refresh=on")
    assert status == 200 and 'http-equiv="refresh"' in body


async def test_schedule_page_and_its_actions(client: Client, ui: str) -> None:
    from temporalio.client import Schedule, ScheduleActionStartWorkflow, ScheduleIntervalSpec, ScheduleSpec

    tq = f"ui-sched-{uuid.uuid4()}"
    schedule_id = f"ui-sched-<b>{uuid.uuid4()}"
    await client.create_schedule(
        schedule_id,
        Schedule(
            action=ScheduleActionStartWorkflow(UiWorkflow.run, "Fay", id=f"ui-sched-run-{uuid.uuid4()}", task_queue=tq),
            spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(hours=1))]),
        ),
    )
    handle = client.get_schedule_handle(schedule_id)
    page = f"{ui}/namespaces/default/schedules/{urllib.parse.quote(schedule_id, safe='')}"
    status, body, _ = get(f"{ui}/namespaces/default/schedules")
    assert status == 200 and urllib.parse.quote(schedule_id, safe="") in body, "the list links to the schedule"
    status, body, _ = get(page)
    assert status == 200 and "UiWorkflow" in body and "1h" in body and "Active" in body and "Upcoming" in body
    assert "&lt;b&gt;" in body and "<b>" not in body
    status, body, _ = get(f"{page}/pause")
    token = re.search(r'name="csrf" value="([0-9a-f]+)"', body)
    assert status == 200 and token, body
    csrf = token.group(1)

    status, body = post(f"{page}/pause", {"note": "no token"})
    assert status == 403
    status, body = post(f"{page}/pause", {"csrf": csrf, "note": "maintenance"})
    assert status == 200 and "Paused" in body and "maintenance" in body
    assert (await handle.describe()).schedule.state.paused
    status, body = post(f"{page}/unpause", {"csrf": csrf})
    assert status == 200 and not (await handle.describe()).schedule.state.paused
    status, body = post(f"{page}/trigger", {"csrf": csrf})
    assert status == 200
    for _ in range(50):
        if (await handle.describe()).info.num_actions >= 1:
            break
        await asyncio.sleep(0.1)
    assert (await handle.describe()).info.num_actions == 1, "trigger started one workflow"
    status, body = post(f"{page}/delete", {"csrf": csrf})
    assert status == 200 and "Schedules" in body
    status, body, _ = get(page)
    assert status == 404


def test_the_ui_under_a_public_path(tmp_path: Path) -> None:
    """`--ui-public-path /temporal` (a proxy serving the UI under a path): every page, link, form
    and redirect lives under it; the root path serves nothing; a path that is not one fails the
    start."""
    from test_server_config import fails

    with own_start_dev("--ui-port", "0", "--ui-public-path", "/temporal/") as (ui, _):
        assert ui and ui.endswith("/temporal"), ui
        status, body, _ = get(f"{ui}/")
        assert status == 200 and "<h1>Workflows</h1>" in body, "the base path opens the list"
        assert 'href="/temporal/assets/ui.css"' in body and 'action="/temporal/namespaces/default/workflows"' in body
        assert 'href="/namespaces' not in body, "no link leaves the base path"
        status, css, headers = get(f"{ui}/assets/ui.css")
        assert status == 200 and headers["content-type"].startswith("text/css")
        status, body, _ = get(f"{ui}/namespaces/default/workflows/start-workflow")
        assert status == 200 and 'action="/temporal/namespaces/default/workflows/start-workflow"' in body
        root = ui.removesuffix("/temporal")
        status, _, _ = get(f"{root}/namespaces/default/workflows")
        assert status == 404, "nothing outside the base path"
    out = fails(["server", "start-dev", "--in-memory", "--port", "0", "--ui-public-path", "temporal ui"])
    assert "--ui-public-path" in out and "/temporal" in out, out


async def test_in_a_browser_every_page_loads_without_script_errors(client: Client, ui: str) -> None:
    """Each kind of page, opened in Chromium: it loads whole (stylesheet included) and logs no
    script error; every confirmation page's form is reachable."""
    import os
    import shutil

    from playwright.async_api import async_playwright
    from temporalio.client import Schedule, ScheduleActionStartWorkflow, ScheduleIntervalSpec, ScheduleSpec

    chromium = os.environ.get("CHRONICLE_CHROMIUM") or shutil.which("chromium")
    if not chromium:
        pytest.fail("chromium not found: install Debian's chromium (scripts/test.sh does) or set CHRONICLE_CHROMIUM")
    tq = f"ui-crawl-{uuid.uuid4()}"
    handle = await client.start_workflow(UiWorkflow.run, "Gil", id=f"ui-crawl-{uuid.uuid4()}", task_queue=tq)
    run_id = (await handle.describe()).run_id
    schedule_id = f"ui-crawl-{uuid.uuid4()}"
    await client.create_schedule(schedule_id, Schedule(
        action=ScheduleActionStartWorkflow(UiWorkflow.run, "Hal", id=f"ui-crawl-s-{uuid.uuid4()}", task_queue=tq),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=timedelta(hours=1))]),
    ))
    activity_id = f"ui-crawl-act-{uuid.uuid4()}"
    await client.start_activity("nobody", id=activity_id, task_queue=tq, start_to_close_timeout=timedelta(seconds=10))
    run = f"{ui}/namespaces/default/workflows/{handle.id}/{run_id}"
    pages = [
        f"{ui}/namespaces", f"{ui}/namespaces/default/workflows", f"{ui}/namespaces/default/workflows/start-workflow",
        f"{run}/history", f"{run}/signal", f"{run}/query", f"{run}/update", f"{run}/cancel", f"{run}/terminate", f"{run}/reset",
        f"{ui}/namespaces/default/task-queues/{tq}", f"{ui}/namespaces/default/schedules",
        f"{ui}/namespaces/default/schedules/{schedule_id}", f"{ui}/namespaces/default/schedules/{schedule_id}/pause",
        f"{ui}/namespaces/default/activities", f"{ui}/namespaces/default/activities/{activity_id}",
    ]
    problems: list[str] = []
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = await browser.new_page()
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
            page.on("requestfailed", lambda r: problems.append(f"failed to load {r.url}"))
            for url in pages:
                answer = await page.goto(url)
                assert answer is not None and answer.status == 200, (url, answer and answer.status)
                color = await page.evaluate("getComputedStyle(document.querySelector('header')).backgroundColor")
                assert color == "rgb(27, 31, 36)", f"{url}: the stylesheet did not apply ({color})"
        finally:
            await browser.close()
    await handle.terminate()
    await client.get_schedule_handle(schedule_id).delete()
    assert not problems, problems


def test_with_tls_the_ui_is_https_with_the_same_certificate(tmp_path: Path) -> None:
    """`--tls-cert/--tls-key` on start-dev: the UI is served over HTTPS with the gRPC port's
    certificate, its address printed as https://; plain HTTP gets no page."""
    import http.client
    import ssl

    from test_security import Certs

    certs = Certs(tmp_path)
    certs.ca("ca")
    certs.leaf("server", "ca", "serverAuth")
    with own_start_dev(
        "--ui-port", "0", "--tls-cert", certs.path("server.pem"), "--tls-key", certs.path("server.key")
    ) as (ui, _):
        assert ui and ui.startswith("https://127.0.0.1:"), ui
        trusted = ssl.create_default_context(cafile=certs.path("ca.pem"))
        with urllib.request.urlopen(f"{ui}/namespaces/default/workflows", timeout=10, context=trusted) as answer:
            assert answer.status == 200 and "<h1>Workflows</h1>" in answer.read().decode()
        try:
            urllib.request.urlopen(ui.replace("https://", "http://") + "/", timeout=5).read()
            raise AssertionError("plain HTTP was served")
        except (urllib.error.URLError, http.client.HTTPException, OSError) as expected:
            # A TLS alert where a status line should be, or a closed connection.
            assert not isinstance(expected, urllib.error.HTTPError), expected
