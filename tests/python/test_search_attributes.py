"""Custom search attributes as Temporal manages them: registered with the SDK's OperatorService
client, listed, upserted from a workflow and found with a typed query; registered at start with
`start-dev --search-attribute`; and created, listed and removed with the real
`temporal operator search-attribute` CLI."""

from __future__ import annotations

import asyncio
import json
import subprocess
import uuid

from temporalio import workflow
from temporalio.common import SearchAttributeKey

with workflow.unsafe.imports_passed_through():
    import pytest
    from reference import temporal_bin, temporal_bin_missing_reason
    from temporalio.api.enums.v1 import IndexedValueType
    from temporalio.api.operatorservice.v1 import (
        AddSearchAttributesRequest,
        ListSearchAttributesRequest,
        RemoveSearchAttributesRequest,
    )
    from temporalio.client import Client
    from temporalio.service import RPCError, RPCStatusCode
    from temporalio.worker import Worker

OTHER_NAMESPACE = "sa-other"
CHRONICLE_SERVER_ARGS = [
    "--search-attribute",
    "StartKeyword=Keyword",
    "--search-attribute",
    "StartTags=keywordlist",
    "--namespace",
    OTHER_NAMESPACE,
]

TEST_TIMEOUT_S = 60.0
MY_KEYWORD = SearchAttributeKey.for_keyword("MyKeyword")
MY_INT = SearchAttributeKey.for_int("MyInt")


@workflow.defn
class Tagger:
    """Tags itself, then waits to be told to finish."""

    def __init__(self) -> None:
        self.done = False

    @workflow.run
    async def run(self, tag: str) -> None:
        workflow.upsert_search_attributes([MY_KEYWORD.value_set(tag), MY_INT.value_set(7)])
        await workflow.wait_condition(lambda: self.done)

    @workflow.signal
    def finish(self) -> None:
        self.done = True


async def custom_attributes(client: Client, namespace: str = "default") -> dict[str, int]:
    r = await client.operator_service.list_search_attributes(ListSearchAttributesRequest(namespace=namespace))
    return dict(r.custom_attributes)


async def test_register_list_upsert_and_query(client: Client) -> None:
    op = client.operator_service
    await op.add_search_attributes(
        AddSearchAttributesRequest(
            namespace="default",
            search_attributes={
                "MyKeyword": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
                "MyInt": IndexedValueType.INDEXED_VALUE_TYPE_INT,
            },
        )
    )
    # Registering again with the same types is a no-op, as test suites do before each run.
    await op.add_search_attributes(
        AddSearchAttributesRequest(
            namespace="default", search_attributes={"MyKeyword": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD}
        )
    )
    listed = await op.list_search_attributes(ListSearchAttributesRequest(namespace="default"))
    assert listed.custom_attributes["MyKeyword"] == IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD
    assert listed.custom_attributes["MyInt"] == IndexedValueType.INDEXED_VALUE_TYPE_INT
    assert listed.system_attributes["WorkflowId"] == IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD
    assert listed.system_attributes["ExecutionStatus"] == IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD
    assert not listed.storage_schema

    with pytest.raises(RPCError) as err:
        await op.add_search_attributes(
            AddSearchAttributesRequest(
                namespace="default", search_attributes={"MyKeyword": IndexedValueType.INDEXED_VALUE_TYPE_INT}
            )
        )
    assert err.value.status == RPCStatusCode.ALREADY_EXISTS
    assert err.value.message == "Search attribute MyKeyword already exists."
    with pytest.raises(RPCError) as err:
        await op.add_search_attributes(
            AddSearchAttributesRequest(
                namespace="default", search_attributes={"WorkflowType": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD}
            )
        )
    assert err.value.status == RPCStatusCode.INVALID_ARGUMENT
    assert err.value.message == "Search attribute WorkflowType is reserved by system."

    task_queue = f"sa-{uuid.uuid4().hex[:8]}"
    tag = f"x-{uuid.uuid4().hex[:6]}"
    async with Worker(client, task_queue=task_queue, workflows=[Tagger]):
        handle = await client.start_workflow(Tagger.run, tag, id=f"{task_queue}-wf", task_queue=task_queue)
        found: list[str] = []
        for _ in range(200):
            found = [w.id async for w in client.list_workflows(f"MyKeyword = '{tag}'")]
            if found:
                break
            await asyncio.sleep(0.05)
        assert found == [handle.id]
        listed_run = [w async for w in client.list_workflows(f"MyKeyword = '{tag}' AND MyInt BETWEEN 5 AND 10")]
        assert [w.id for w in listed_run] == [handle.id]
        assert listed_run[0].typed_search_attributes.get(MY_KEYWORD) == tag
        assert listed_run[0].typed_search_attributes.get(MY_INT) == 7
        assert (await client.count_workflows(f"MyKeyword = '{tag}' AND MyInt > 7")).count == 0
        # The registered type reads the literal: a string is no Int.
        with pytest.raises(RPCError) as err:
            [w async for w in client.list_workflows("MyInt = '7'")]
        assert err.value.status == RPCStatusCode.INVALID_ARGUMENT
        assert "invalid value type for search attribute MyInt of type Int" in err.value.message
        await handle.signal(Tagger.finish)
        await asyncio.wait_for(handle.result(), TEST_TIMEOUT_S)

    await op.remove_search_attributes(RemoveSearchAttributesRequest(namespace="default", search_attributes=["MyInt"]))
    assert "MyInt" not in await custom_attributes(client)
    with pytest.raises(RPCError) as err:
        await op.remove_search_attributes(
            RemoveSearchAttributesRequest(namespace="default", search_attributes=["MyInt"])
        )
    assert err.value.status == RPCStatusCode.NOT_FOUND
    assert err.value.message == "Search attribute MyInt doesn't exist."


async def test_start_dev_flag_registers_in_every_namespace(client: Client) -> None:
    for namespace in ("default", OTHER_NAMESPACE):
        custom = await custom_attributes(client, namespace)
        assert custom["StartKeyword"] == IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD, namespace
        assert custom["StartTags"] == IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD_LIST, namespace


def run_cli(cmd: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60)


@pytest.mark.skipif(temporal_bin_missing_reason() is not None, reason=temporal_bin_missing_reason() or "")
async def test_temporal_cli_creates_lists_and_removes(chronicle_server: str, client: Client) -> None:
    temporal = [str(temporal_bin()), "operator", "search-attribute"]
    where = ["--address", chronicle_server, "--namespace", OTHER_NAMESPACE]

    created = run_cli([*temporal, "create", *where, "--name", "CliColor", "--type", "Keyword"])
    assert created.returncode == 0, created.stderr
    assert (await custom_attributes(client, OTHER_NAMESPACE))["CliColor"] == IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD
    assert "CliColor" not in await custom_attributes(client, "default"), "registered per namespace"

    listed = run_cli([*temporal, "list", *where, "-o", "json"])
    assert listed.returncode == 0, listed.stderr
    doc = json.loads(listed.stdout)
    assert doc["customAttributes"]["CliColor"] == "INDEXED_VALUE_TYPE_KEYWORD"
    assert doc["customAttributes"]["StartTags"] == "INDEXED_VALUE_TYPE_KEYWORD_LIST"
    assert doc["systemAttributes"]["WorkflowId"] == "INDEXED_VALUE_TYPE_KEYWORD"
    table = run_cli([*temporal, "list", *where])
    assert table.returncode == 0 and "CliColor" in table.stdout and "Keyword" in table.stdout, table

    # The CLI checks the listing itself before asking the server.
    clash = run_cli([*temporal, "create", *where, "--name", "CliColor", "--type", "Int"])
    assert clash.returncode != 0 and "already exists" in clash.stderr, clash
    reserved = run_cli([*temporal, "create", *where, "--name", "RunId", "--type", "Keyword"])
    assert reserved.returncode != 0 and "Search attribute RunId is reserved by system." in reserved.stderr, reserved

    removed = run_cli([*temporal, "remove", *where, "--name", "CliColor", "--yes"])
    assert removed.returncode == 0, removed.stderr
    assert "CliColor" not in await custom_attributes(client, OTHER_NAMESPACE)
    again = run_cli([*temporal, "remove", *where, "--name", "CliColor", "--yes"])
    assert again.returncode != 0 and "Search attribute CliColor doesn't exist." in again.stderr, again
