"""OpenTelemetry traces over OTLP/gRPC (`--otlp-endpoint`, or `OTEL_TRACES_EXPORTER=otlp`): a
span per call and per store call and commit, joined to the trace the Python SDK's
TracingInterceptor propagates (its `_tracer-data` header) or to a W3C `traceparent` in the gRPC
metadata. A small in-process OTLP collector receives what the server exports."""

import time
import uuid
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import grpc
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.trace.v1 import trace_pb2
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.contrib.opentelemetry import TracingInterceptor
from temporalio.service import RPCError
from temporalio.worker import Worker

from test_server_config import Started

WORKFLOW_SERVICE = "temporal.api.workflowservice.v1.WorkflowService"
# Export within a tenth of a second, not the default five.
FAST_EXPORT = {"OTEL_BSP_SCHEDULE_DELAY": "100"}


@activity.defn
async def greet(name: str) -> str:
    return f"Hello, {name}!"


@workflow.defn(sandboxed=False)
class TracedWorkflow:
    def __init__(self) -> None:
        self.signals: list[str] = []

    @workflow.run
    async def run(self, name: str) -> str:
        await workflow.wait_condition(lambda: bool(self.signals))
        return await workflow.execute_activity(greet, name, start_to_close_timeout=timedelta(seconds=10))

    @workflow.signal
    def poke(self, value: str) -> None:
        self.signals.append(value)

    @workflow.query
    def seen(self) -> list[str]:
        return self.signals


@dataclass
class Collector(trace_service_pb2_grpc.TraceServiceServicer):
    """Keeps every span exported to it, with its resource's attributes."""

    port: int = 0
    spans: list[tuple[dict[str, str], trace_pb2.Span]] = field(default_factory=list)

    def Export(self, request, context):  # noqa: N802 (the gRPC method's name)
        for resource_spans in request.resource_spans:
            resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            for scope in resource_spans.scope_spans:
                self.spans.extend((resource, span) for span in scope.spans)
        return trace_service_pb2.ExportTraceServiceResponse()

    def wait_for(self, predicate, what: str, timeout: float = 15.0) -> list[trace_pb2.Span]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [span for _, span in list(self.spans) if predicate(span)]
            if found:
                return found
            time.sleep(0.05)
        names = sorted({span.name for _, span in self.spans})
        raise AssertionError(f"no span {what} among {len(self.spans)}: {names}")


@pytest.fixture
def collector() -> Iterator[Collector]:
    collector = Collector()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(collector, server)
    collector.port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield collector
    server.stop(0)


def attributes(span: trace_pb2.Span) -> dict[str, object]:
    out: dict[str, object] = {}
    for a in span.attributes:
        kind = a.value.WhichOneof("value")
        out[a.key] = getattr(a.value, kind) if kind else None
    return out


def call_named(method: str):
    return lambda span: span.name == f"{WORKFLOW_SERVICE}/{method}"


async def test_calls_and_commits_join_the_trace_the_sdk_propagates(collector: Collector, tmp_path: Path) -> None:
    server = Started(
        ["--db-filename", str(tmp_path / "traces.db"), "--otlp-endpoint", f"http://127.0.0.1:{collector.port}"],
        env=FAST_EXPORT,
    )
    try:
        sdk_spans = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(sdk_spans))
        client = await Client.connect(server.address, interceptors=[TracingInterceptor(provider.get_tracer("test"))])
        queue = f"traces-{uuid.uuid4()}"
        workflow_id = f"traced-{uuid.uuid4()}"
        async with Worker(client, task_queue=queue, workflows=[TracedWorkflow], activities=[greet]):
            handle = await client.start_workflow(TracedWorkflow.run, "traces", id=workflow_id, task_queue=queue)
            await handle.signal(TracedWorkflow.poke, "now")
            assert await handle.result() == "Hello, traces!"
            assert await handle.query(TracedWorkflow.seen) == ["now"]
        with pytest.raises(RPCError):
            await client.get_workflow_handle(f"missing-{uuid.uuid4()}").describe()

        by_name = {s.name: s for s in sdk_spans.get_finished_spans()}
        for sdk_name, method in [
            ("StartWorkflow:TracedWorkflow", "StartWorkflowExecution"),
            ("SignalWorkflow:poke", "SignalWorkflowExecution"),
            ("QueryWorkflow:seen", "QueryWorkflow"),
        ]:
            sdk_span = by_name[sdk_name].get_span_context()
            joined = collector.wait_for(
                lambda s, m=method, t=sdk_span.trace_id: call_named(m)(s) and s.trace_id == t.to_bytes(16, "big"),
                f"{method} in the SDK's trace",
            )
            assert len(joined) == 1, joined
            call = joined[0]
            assert call.parent_span_id == sdk_span.span_id.to_bytes(8, "big"), f"{method}'s parent is the SDK's span"
            assert call.kind == trace_pb2.Span.SPAN_KIND_SERVER
            attrs = attributes(call)
            assert attrs["rpc.system"] == "grpc" and attrs["rpc.method"] == method
            assert attrs["rpc.service"] == WORKFLOW_SERVICE and attrs["rpc.grpc.status_code"] == 0
            assert attrs["temporalNamespace"] == "default" and attrs["temporalWorkflowID"] == workflow_id

        # The start's commit is a child of its call; the SQLite group commit that made it
        # durable links to it.
        start = collector.wait_for(call_named("StartWorkflowExecution"), "for the start")[0]
        commit = collector.wait_for(
            lambda s: s.name == "UpdateWorkflowExecution" and s.parent_span_id == start.span_id, "commit of the start"
        )[0]
        assert commit.trace_id == start.trace_id and commit.kind == trace_pb2.Span.SPAN_KIND_CLIENT
        group = collector.wait_for(
            lambda s: s.name == "SqliteGroupCommit" and any(link.span_id == commit.span_id for link in s.links),
            "group commit linked to the start's commit",
        )[0]
        assert attributes(group)["requests"] >= 1
        # Workers' calls are spans too; a failed call carries its code, and NotFound is the
        # caller's mistake, not the server's error.
        collector.wait_for(call_named("PollWorkflowTaskQueue"), "for a poll")
        collector.wait_for(call_named("RespondActivityTaskCompleted"), "for an activity's completion")
        missing = collector.wait_for(call_named("DescribeWorkflowExecution"), "for the failed describe")[0]
        assert attributes(missing)["rpc.grpc.status_code"] == grpc.StatusCode.NOT_FOUND.value[0]
        assert missing.status.code != trace_pb2.Status.STATUS_CODE_ERROR
        assert {resource.get("service.name") for resource, _ in collector.spans} == {"chronicle"}
    finally:
        server.stop()


async def test_a_traceparent_in_grpc_metadata_is_joined(collector: Collector, tmp_path: Path) -> None:
    server = Started(
        ["--db-filename", str(tmp_path / "traces.db"), "--otlp-endpoint", f"http://127.0.0.1:{collector.port}"],
        env=FAST_EXPORT,
    )
    try:
        trace_id, parent = uuid.uuid4().hex, uuid.uuid4().hex[:16]
        client = await Client.connect(server.address, rpc_metadata={"traceparent": f"00-{trace_id}-{parent}-01"})
        await client.count_workflows()
        call = collector.wait_for(call_named("CountWorkflowExecutions"), "for the count")[0]
        assert call.trace_id.hex() == trace_id and call.parent_span_id.hex() == parent
    finally:
        server.stop()


async def test_traces_are_off_unless_asked_for(collector: Collector, tmp_path: Path) -> None:
    endpoint = {**FAST_EXPORT, "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{collector.port}"}
    # The standard variables name a collector, but nothing asks for traces.
    quiet = Started(["--db-filename", str(tmp_path / "quiet.db")], env=endpoint)
    try:
        client = await Client.connect(quiet.address)
        await client.count_workflows()
    finally:
        quiet.stop()
    assert collector.spans == []
    # OTEL_TRACES_EXPORTER=otlp asks, as it does of Temporal's server.
    traced = Started(["--db-filename", str(tmp_path / "traced.db")], env={**endpoint, "OTEL_TRACES_EXPORTER": "otlp"})
    try:
        client = await Client.connect(traced.address)
        await client.count_workflows()
        collector.wait_for(call_named("CountWorkflowExecutions"), "for the count")
    finally:
        traced.stop()
