"""Requests an attacker (or a broken client) sends: each is refused with a code and a
bounded message a user understands, and the server keeps serving. Messages follow
Temporal's where it has one. Where Temporal takes what would hurt (identities of
megabytes, NaN backoff coefficients), Chronicle refuses it; durations past protobuf's
range are accepted as Temporal accepts them, meaning the far future."""

import asyncio
import os
import uuid
from datetime import timedelta

import pytest
from google.protobuf.duration_pb2 import Duration
from temporalio.api.common.v1 import Payload, Payloads, RetryPolicy, WorkflowType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import (
    DescribeNamespaceRequest,
    GetSystemInfoRequest,
    ListWorkflowExecutionsRequest,
    PollActivityTaskQueueRequest,
    StartWorkflowExecutionRequest,
    UpdateNamespaceRequest,
)
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from test_server_config import Started


def start(**fields) -> StartWorkflowExecutionRequest:
    request = dict(namespace="default", workflow_id=f"hostile-{uuid.uuid4()}", workflow_type=WorkflowType(name="W"),
                   task_queue=TaskQueue(name="hostile"), request_id=str(uuid.uuid4()))
    request.update(fields)
    return StartWorkflowExecutionRequest(**request)


async def refused(call, code: RPCStatusCode, message: str) -> str:
    with pytest.raises(RPCError) as caught:
        await call
    assert caught.value.status == code, caught.value
    assert message in caught.value.message, caught.value.message
    return caught.value.message


async def test_lengths_durations_and_coefficients_are_validated(client: Client) -> None:
    s = client.workflow_service
    invalid = RPCStatusCode.INVALID_ARGUMENT
    await refused(s.start_workflow_execution(start(workflow_id="x" * 1001)), invalid, "WorkflowId length exceeds limit.")
    await refused(s.start_workflow_execution(start(workflow_type=WorkflowType(name="t" * 1001))), invalid,
                  "WorkflowType length exceeds limit.")
    await refused(s.start_workflow_execution(start(request_id="r" * 1001)), invalid, "RequestId length exceeds limit.")
    await refused(s.start_workflow_execution(start(identity="i" * (3 * 1024 * 1024))), invalid,
                  "Identity length exceeds limit.")
    await refused(s.poll_activity_task_queue(PollActivityTaskQueueRequest(
        namespace="default", task_queue=TaskQueue(name="q"), identity="i" * 1001), timeout=timedelta(seconds=5)),
        invalid, "Identity length exceeds limit.")
    await refused(s.update_namespace(UpdateNamespaceRequest(namespace="n" * 10_000)), invalid,
                  "Namespace length exceeds limit.")
    for timeout, cause in [
        (Duration(seconds=1, nanos=-5), "duration has seconds and nanos with different signs"),
        (Duration(seconds=-5), "negative duration"),
    ]:
        await refused(s.start_workflow_execution(start(workflow_run_timeout=timeout)), invalid,
                      f"An invalid WorkflowRunTimeoutSeconds is set on request. cause: {cause}")
    # Past protobuf's range, as Temporal: accepted, meaning the far future.
    for timeout in [Duration(seconds=2**62), Duration(seconds=1, nanos=2_000_000_000)]:
        await s.start_workflow_execution(start(workflow_run_timeout=timeout))
    for coefficient in [float("nan"), float("inf")]:
        await refused(s.start_workflow_execution(start(retry_policy=RetryPolicy(backoff_coefficient=coefficient))),
                      invalid, "BackoffCoefficient must be a finite number")
    await s.get_system_info(GetSystemInfoRequest())


async def test_messages_quote_a_bounded_prefix_of_the_input(client: Client) -> None:
    s = client.workflow_service
    for query in ["X" * 900_000 + " = 'a'", "StartTime = '" + "x" * 900_000 + "'"]:
        message = await refused(
            s.list_workflow_executions(ListWorkflowExecutionsRequest(namespace="default", query=query)),
            RPCStatusCode.INVALID_ARGUMENT, "invalid query")
        assert len(message) <= 1100, len(message)
    message = await refused(s.describe_namespace(DescribeNamespaceRequest(namespace="n" * 999)),
                            RPCStatusCode.NOT_FOUND, "is not found")
    assert len(message) <= 1100


async def test_oversized_requests_are_refused_and_the_server_keeps_serving(client: Client) -> None:
    s = client.workflow_service
    # Over Temporal's 4 MiB request limit, compressible (the SDK gzips) or not.
    for data in [b"x" * (5 * 1024 * 1024), os.urandom(5 * 1024 * 1024)]:
        message = await refused(s.start_workflow_execution(start(input=Payloads(payloads=[Payload(data=data)]))),
                                RPCStatusCode.RESOURCE_EXHAUSTED, "")
        assert "4194304" in message, message
    # Under the request limit but over the 2 MiB payload limit.
    await refused(s.start_workflow_execution(start(input=Payloads(payloads=[Payload(data=b"x" * (3 * 1024 * 1024))]))),
                  RPCStatusCode.INVALID_ARGUMENT, "exceeds the limit of 2097152 bytes")
    assert (await client.count_workflows()).count >= 0


async def test_the_request_limit_is_configurable() -> None:
    server = Started(["--database-url", "sqlite::memory:", "--max-request-bytes", "65536"])
    try:
        client = await Client.connect(str(server.address))
        await refused(client.workflow_service.start_workflow_execution(
            start(input=Payloads(payloads=[Payload(data=os.urandom(100_000))]))), RPCStatusCode.RESOURCE_EXHAUSTED, "")
        await client.workflow_service.start_workflow_execution(
            start(input=Payloads(payloads=[Payload(data=os.urandom(10_000))])))
    finally:
        server.stop()


async def test_namespace_rate_and_poller_limits_answer_resource_exhausted() -> None:
    server = Started(["--database-url", "sqlite::memory:", "--namespace", "other",
                      "--dynamic-config-value", "frontend.namespaceRPS=5",
                      "--dynamic-config-value", "frontend.namespaceCount=2"])
    try:
        client = await Client.connect(str(server.address))
        s = client.workflow_service
        # Bursts of twice the rate pass; then the namespace is throttled.
        outcomes = []
        for _ in range(30):
            try:
                await s.describe_namespace(DescribeNamespaceRequest(namespace="default"))
                outcomes.append("ok")
            except RPCError as e:
                assert e.status == RPCStatusCode.RESOURCE_EXHAUSTED and e.message == "namespace rate limit exceeded"
                outcomes.append("throttled")
        assert 10 <= outcomes.count("ok") <= 13 and outcomes[-1] == "throttled", outcomes
        # Another namespace has a bucket of its own.
        await s.describe_namespace(DescribeNamespaceRequest(namespace="other"))

        # Two long polls in flight in `other`; a third is refused at once.
        def poll() -> PollActivityTaskQueueRequest:
            return PollActivityTaskQueueRequest(namespace="other", task_queue=TaskQueue(name="idle"))
        polls = [asyncio.create_task(s.poll_activity_task_queue(poll(), timeout=timedelta(seconds=5)))
                 for _ in range(2)]
        await asyncio.sleep(0.5)
        await refused(s.poll_activity_task_queue(poll(), timeout=timedelta(seconds=5)),
                      RPCStatusCode.RESOURCE_EXHAUSTED, "namespace concurrent poller limit exceeded")
        for p in polls:
            p.cancel()
    finally:
        server.stop()
