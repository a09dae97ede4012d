"""Continue-as-new: a long-running batch loop that starts a fresh run (with a fresh, short
history) every `max_iterations` batches, carrying its state over as the new run's input."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from temporalio import activity, workflow

with workflow.unsafe.imports_passed_through():
    from temporalio.client import Client
    from temporalio.worker import Worker


# The seed leaves WorkflowState undefined; a dataclass round-trips through the JSON converter.
# Only fields are serialized, so advance()/is_complete travel as code, not data.
@dataclass
class WorkflowState:
    total_batches: int
    current_batch: int = 0
    # Differs from the seed, where max_iterations = 1000 is a local in run(): as a field the
    # example can use a small value (5) and see several runs.
    max_iterations: int = 1000

    @property
    def is_complete(self) -> bool:
        return self.current_batch >= self.total_batches

    def advance(self) -> None:
        self.current_batch += 1


@activity.defn
async def process_batch(batch: int) -> None:
    activity.logger.info("processing batch %d", batch)


@workflow.defn
class LongRunningWorkflow:
    @workflow.run
    async def run(self, state: WorkflowState) -> WorkflowState:
        iteration = 0
        max_iterations = state.max_iterations  # Prevent unbounded history

        while not state.is_complete:
            await workflow.execute_activity(
                process_batch,
                state.current_batch,
                start_to_close_timeout=timedelta(minutes=5),
            )
            state.advance()
            iteration += 1

            # Continue-as-new before history grows too large.
            # workflow.continue_as_new raises (ContinueAsNewError), so nothing after it runs:
            # this run closes with WorkflowExecutionContinuedAsNew and a new run starts with `state`.
            if iteration >= max_iterations:
                workflow.continue_as_new(state)

        return state


async def main(client: Client, total_batches: int = 23, max_iterations: int = 5) -> dict:
    task_queue = f"examples-continue-as-new-{uuid.uuid4().hex[:8]}"
    workflow_id = f"long-running-{uuid.uuid4().hex[:8]}"
    async with Worker(client, task_queue=task_queue, workflows=[LongRunningWorkflow], activities=[process_batch]):
        handle = await client.start_workflow(
            LongRunningWorkflow.run,
            WorkflowState(total_batches=total_batches, max_iterations=max_iterations),
            id=workflow_id,
            task_queue=task_queue,
        )
        # result() follows the chain of continued runs to the last one.
        state: WorkflowState = await handle.result()

    # Every run of the chain shares the workflow id; visibility lists them all (newest first).
    # Chronicle writes visibility in the same commit as the run, so the list is complete at once;
    # on a Temporal cluster it can lag the result by a moment.
    runs = [wf async for wf in client.list_workflows(f"WorkflowId = '{workflow_id}'")]
    runs.sort(key=lambda wf: wf.start_time)
    for i, wf in enumerate(runs, 1):
        print(f"  run {i}: {wf.run_id} {wf.status.name if wf.status else None} started {wf.start_time:%H:%M:%S.%f}")
    return {
        "workflow_id": workflow_id,
        "first_run_id": handle.first_execution_run_id,
        "state": state,
        "runs": [{"run_id": wf.run_id, "status": wf.status.name if wf.status else None} for wf in runs],
    }
