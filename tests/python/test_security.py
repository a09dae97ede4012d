"""TLS, mutual TLS and API keys on the gRPC port, through the Python SDK's own options
(`tls=TLSConfig(...)`, `api_key=`) and the `temporal` CLI as real clients: a key scoped to
one namespace is refused in another for every RPC family, a revoked key stops working
without a restart, a renewed certificate is served without one, and connections that send
nothing are closed."""

import asyncio
import os
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio import activity, workflow
from temporalio.api.common.v1 import WorkflowExecution, WorkflowType
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.api.query.v1 import WorkflowQuery
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import (
    DescribeWorkflowExecutionRequest,
    GetSystemInfoRequest,
    ListWorkflowExecutionsRequest,
    PollActivityTaskQueueRequest,
    QueryWorkflowRequest,
    RegisterNamespaceRequest,
    SignalWorkflowExecutionRequest,
    StartWorkflowExecutionRequest,
    TerminateWorkflowExecutionRequest,
)
from temporalio.client import Client, TLSConfig
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Worker

from conftest import _chronicle_bin
from reference import temporal_bin, temporal_bin_missing_reason
from test_server_config import Started


def openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


@dataclass
class Certs:
    dir: Path

    def path(self, name: str) -> str:
        return str(self.dir / name)

    def read(self, name: str) -> bytes:
        return (self.dir / name).read_bytes()

    def ca(self, name: str) -> None:
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", self.path(f"{name}.key"), "-out", self.path(f"{name}.pem"), "-days", "2",
                "-subj", f"/CN={name}")

    def leaf(self, name: str, ca: str, usage: str) -> None:
        """A certificate for localhost/127.0.0.1 signed by `ca`, for serverAuth or clientAuth."""
        ext = self.dir / f"{name}.ext"
        ext.write_text(f"subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage={usage}\n")
        openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", self.path(f"{name}.key"), "-out", self.path(f"{name}.csr"), "-subj", f"/CN={name}")
        openssl("x509", "-req", "-in", self.path(f"{name}.csr"), "-CA", self.path(f"{ca}.pem"),
                "-CAkey", self.path(f"{ca}.key"), "-CAcreateserial", "-out", self.path(f"{name}.pem"),
                "-days", "2", "-extfile", str(ext))


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    c = Certs(tmp_path_factory.mktemp("certs"))
    c.ca("ca")
    c.ca("other-ca")
    c.leaf("server", "ca", "serverAuth")
    c.leaf("server2", "other-ca", "serverAuth")
    c.leaf("client", "ca", "clientAuth")
    c.leaf("rogue", "other-ca", "clientAuth")
    return c


def tls_to(certs: Certs, ca: str = "ca", client: str | None = None) -> TLSConfig:
    return TLSConfig(
        server_root_ca_cert=certs.read(f"{ca}.pem"),
        domain="localhost",
        client_cert=certs.read(f"{client}.pem") if client else None,
        client_private_key=certs.read(f"{client}.key") if client else None,
    )


def create_key(keys: Path, name: str, namespace: str, role: str) -> str:
    out = subprocess.run(
        [str(_chronicle_bin()), "auth", "key", "create", "--name", name, "--namespace", namespace,
         "--role", role, "--auth-keys", str(keys)],
        check=True, capture_output=True, text=True,
    ).stdout
    line = dict(part.split(": ", 1) for part in out.strip().splitlines())
    assert line["line"].split()[:3] == [name, namespace, role]
    return line["key"]


@activity.defn
async def shout(name: str) -> str:
    return name.upper()


@workflow.defn(sandboxed=False)
class SecureWorkflow:
    def __init__(self) -> None:
        self.signals: list[str] = []

    @workflow.run
    async def run(self, name: str) -> str:
        return await workflow.execute_activity(shout, name, start_to_close_timeout=timedelta(seconds=10))

    @workflow.signal
    def note(self, text: str) -> None:
        self.signals.append(text)

    @workflow.query
    def notes(self) -> list[str]:
        return self.signals


async def run_one(client: Client) -> None:
    queue = f"secure-{uuid.uuid4()}"
    async with Worker(client, task_queue=queue, workflows=[SecureWorkflow], activities=[shout]):
        result = await client.execute_workflow(SecureWorkflow.run, "hi", id=f"wf-{uuid.uuid4()}", task_queue=queue)
    assert result == "HI"


async def refused(call, code: RPCStatusCode = RPCStatusCode.PERMISSION_DENIED) -> RPCError:
    with pytest.raises(RPCError) as caught:
        await call
    assert caught.value.status == code, caught.value
    return caught.value


async def test_tls_serves_sdk_clients_and_workers(certs: Certs) -> None:
    server = Started(["--database-url", "sqlite::memory:", "--tls-cert", certs.path("server.pem"), "--tls-key", certs.path("server.key")])
    try:
        assert "Chronicle gRPC serves TLS only" in server.lines
        client = await Client.connect(server.address, tls=tls_to(certs))
        await run_one(client)
        # Plaintext and a client that does not trust the server's CA both fail.
        with pytest.raises(RuntimeError):
            await Client.connect(server.address)
        with pytest.raises(RuntimeError):
            await Client.connect(server.address, tls=tls_to(certs, ca="other-ca"))
    finally:
        server.stop()


async def test_mutual_tls_admits_only_certificates_from_the_client_ca(certs: Certs) -> None:
    server = Started(["--database-url", "sqlite::memory:", "--tls-cert", certs.path("server.pem"),
                      "--tls-key", certs.path("server.key"), "--tls-client-ca", certs.path("ca.pem")])
    try:
        client = await Client.connect(server.address, tls=tls_to(certs, client="client"))
        await run_one(client)
        for who in [None, "rogue"]:
            with pytest.raises(RuntimeError):
                c = await Client.connect(server.address, tls=tls_to(certs, client=who))
                await c.count_workflows()
    finally:
        server.stop()


async def test_renewed_certificates_are_served_without_a_restart(certs: Certs, tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.write_bytes(certs.read("server.pem"))
    key.write_bytes(certs.read("server.key"))
    server = Started(["--database-url", "sqlite::memory:", "--tls-cert", str(cert), "--tls-key", str(key)])
    try:
        await Client.connect(server.address, tls=tls_to(certs))
        # Renewed by another CA: new connections get the new certificate.
        key.write_bytes(certs.read("server2.key"))
        cert.write_bytes(certs.read("server2.pem"))
        deadline = time.monotonic() + 15
        while True:
            try:
                client = await Client.connect(server.address, tls=tls_to(certs, ca="other-ca"))
                break
            except RuntimeError:
                assert time.monotonic() < deadline, "the renewed certificate was not served"
                await asyncio.sleep(0.2)
        assert (await client.count_workflows()).count == 0
    finally:
        server.stop()


async def test_api_keys_scope_every_rpc_family_to_their_namespace(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    worker_a = create_key(keys, "worker-a", "a", "worker")
    reader_a = create_key(keys, "reader-a", "a", "reader")
    admin = create_key(keys, "ops", "*", "admin")
    server = Started(["--database-url", "sqlite::memory:", "--namespace", "a", "--namespace", "b",
                      "--auth-keys", str(keys)])
    try:
        # A worker key runs workflows (client and worker) in its namespace.
        a = await Client.connect(server.address, namespace="a", api_key=worker_a, tls=False)
        await run_one(a)

        # ...and is refused in namespace b for every family of calls.
        svc, op = a.workflow_service, a.operator_service
        wf = WorkflowExecution(workflow_id="x")
        queue = TaskQueue(name="q")
        calls = {
            "start": lambda ns: svc.start_workflow_execution(StartWorkflowExecutionRequest(
                namespace=ns, workflow_id=f"w-{uuid.uuid4()}", workflow_type=WorkflowType(name="W"),
                task_queue=queue, request_id=str(uuid.uuid4()))),
            "signal": lambda ns: svc.signal_workflow_execution(SignalWorkflowExecutionRequest(
                namespace=ns, workflow_execution=wf, signal_name="s")),
            "query": lambda ns: svc.query_workflow(QueryWorkflowRequest(
                namespace=ns, execution=wf, query=WorkflowQuery(query_type="q"))),
            "list": lambda ns: svc.list_workflow_executions(ListWorkflowExecutionsRequest(namespace=ns)),
            "describe": lambda ns: svc.describe_workflow_execution(DescribeWorkflowExecutionRequest(
                namespace=ns, execution=wf)),
            "terminate": lambda ns: svc.terminate_workflow_execution(TerminateWorkflowExecutionRequest(
                namespace=ns, workflow_execution=wf)),
            "poll": lambda ns: svc.poll_activity_task_queue(PollActivityTaskQueueRequest(
                namespace=ns, task_queue=queue), timeout=timedelta(seconds=1)),
            "operator": lambda ns: op.list_search_attributes(ListSearchAttributesRequest(namespace=ns)),
        }
        for family, call in calls.items():
            error = await refused(call("b"))
            assert error.message == "Request unauthorized.", family
        # Operator calls need an admin, even in the key's own namespace.
        await refused(calls["operator"]("a"))
        await refused(svc.register_namespace(RegisterNamespaceRequest(namespace="c")))

        # A reader reads but does not write.
        r = await Client.connect(server.address, namespace="a", api_key=reader_a, tls=False)
        await r.count_workflows()
        await refused(r.start_workflow("W", id="w", task_queue="q"))
        await refused(r.workflow_service.list_workflow_executions(ListWorkflowExecutionsRequest(namespace="b")))

        # An admin key for every namespace does everything.
        ops = await Client.connect(server.address, namespace="b", api_key=admin, tls=False)
        await ops.operator_service.list_search_attributes(ListSearchAttributesRequest(namespace="b"))
        await ops.count_workflows()

        # No key, or a key the file does not know: Unauthenticated.
        anonymous = await Client.connect(server.address, namespace="a")
        await refused(anonymous.count_workflows(), RPCStatusCode.UNAUTHENTICATED)
        forged = await Client.connect(server.address, namespace="a", api_key="chr_" + "0" * 64, tls=False)
        await refused(forged.count_workflows(), RPCStatusCode.UNAUTHENTICATED)
        # Health checks stay open.
        await anonymous.workflow_service.get_system_info(GetSystemInfoRequest())
    finally:
        server.stop()
    assert any("permission denied" in line and "worker-a" in line for line in server.lines), "denials are logged"


async def test_a_revoked_key_stops_working_without_a_restart(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    key = create_key(keys, "temp", "default", "worker")
    create_key(keys, "other", "default", "reader")
    server = Started(["--database-url", "sqlite::memory:", "--auth-keys", str(keys)])
    try:
        client = await Client.connect(server.address, api_key=key, tls=False)
        await client.count_workflows()
        out = subprocess.run([str(_chronicle_bin()), "auth", "key", "revoke", "--name", "temp",
                              "--auth-keys", str(keys)], check=True, capture_output=True, text=True).stdout
        assert "revoked temp" in out
        listed = subprocess.run([str(_chronicle_bin()), "auth", "key", "list", "--auth-keys", str(keys)],
                                check=True, capture_output=True, text=True).stdout
        assert listed.split() == ["other", "default", "reader"]
        deadline = time.monotonic() + 10
        while True:
            try:
                await client.count_workflows()
            except RPCError as e:
                assert e.status == RPCStatusCode.UNAUTHENTICATED
                break
            assert time.monotonic() < deadline, "the revoked key still works"
            await asyncio.sleep(0.2)
    finally:
        server.stop()


@pytest.mark.skipif(temporal_bin_missing_reason() is not None, reason=str(temporal_bin_missing_reason()))
def test_the_temporal_cli_connects_with_tls_and_an_api_key(certs: Certs, tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    key = create_key(keys, "cli", "default", "reader")
    server = Started(["--database-url", "sqlite::memory:", "--tls-cert", certs.path("server.pem"),
                      "--tls-key", certs.path("server.key"), "--auth-keys", str(keys)])
    try:
        base = [str(temporal_bin()), "workflow", "list", "--address", str(server.address),
                "--tls-ca-path", certs.path("ca.pem"), "--tls-server-name", "localhost"]
        ok = subprocess.run([*base, "--api-key", key], capture_output=True, text=True, timeout=30)
        assert ok.returncode == 0, ok.stderr
        denied = subprocess.run([*base, "--api-key", key, "--namespace", "elsewhere"],
                                capture_output=True, text=True, timeout=30)
        assert denied.returncode != 0 and "Request unauthorized" in denied.stderr, denied.stderr
    finally:
        server.stop()


def test_silent_connections_are_closed() -> None:
    server = Started(["--database-url", "sqlite::memory:"])
    try:
        host, port = str(server.address).split(":")
        silent = [socket.create_connection((host, int(port))) for _ in range(20)]
        for s in silent:
            s.settimeout(30)
        began = time.monotonic()
        for s in silent:
            assert s.recv(1) == b"", "the server closes a connection that sends nothing"
            s.close()
        assert time.monotonic() - began < 25
    finally:
        server.stop()


def test_chronicle_cli_connects_with_mutual_tls_and_an_api_key(certs: Certs, tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    key = create_key(keys, "cli", "default", "worker")
    server = Started(["--database-url", "sqlite::memory:", "--tls-cert", certs.path("server.pem"),
                      "--tls-key", certs.path("server.key"), "--tls-client-ca", certs.path("ca.pem"),
                      "--auth-keys", str(keys)])
    try:
        tls = ["--address", str(server.address), "--tls-ca-path", certs.path("ca.pem"), "--tls-server-name",
               "localhost", "--tls-cert-path", certs.path("client.pem"), "--tls-key-path", certs.path("client.key")]

        def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
            return subprocess.run([str(_chronicle_bin()), "workflow", *args, *tls], capture_output=True, text=True,
                                  timeout=30, env={**os.environ, **(env or {})})

        started = cli("start", "--type", "W", "--task-queue", "q", "--workflow-id", "cli-wf",
                      env={"TEMPORAL_API_KEY": key})
        assert started.returncode == 0, started.stderr
        listed = cli("list", "--api-key", key)
        assert listed.returncode == 0 and "cli-wf" in listed.stdout, listed.stderr
        denied = cli("list")
        assert denied.returncode != 0 and "Unauthenticated" in denied.stderr, denied.stderr
    finally:
        server.stop()
