"""Steps of a worker driven through the raw gRPC API, shared by the tests that play the worker
themselves (eager dispatch, eager start, sticky queues)."""

from temporalio.api.command.v1 import Command, CompleteWorkflowExecutionCommandAttributes
from temporalio.api.common.v1 import Payloads
from temporalio.api.enums.v1 import CommandType
from temporalio.api.workflowservice.v1 import RespondWorkflowTaskCompletedRequest
from temporalio.service import WorkflowService

from conftest import NAMESPACE


async def complete_workflow(
    service: WorkflowService, task_token: bytes, identity: str, result: Payloads | None = None
) -> None:
    """Completes a workflow task with one command: complete the workflow (with `result`)."""
    await service.respond_workflow_task_completed(
        RespondWorkflowTaskCompletedRequest(
            namespace=NAMESPACE,
            task_token=task_token,
            identity=identity,
            commands=[
                Command(
                    command_type=CommandType.COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION,
                    complete_workflow_execution_command_attributes=CompleteWorkflowExecutionCommandAttributes(
                        result=result
                    ),
                )
            ],
        )
    )
