"""Saga: book a trip as a sequence of activities (flight, hotel, car). Before each step its
compensation is registered; when a step fails for good, the registered compensations run in
reverse order and the workflow fails with an error that lists what was undone.

The hotel step also shows activity retries: it fails twice and succeeds on attempt 3."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from temporalio.client import Client, WorkflowFailureError
    from temporalio.worker import Worker


@dataclass
class BookingRequest:
    trip_id: str
    car_class: str  # "unavailable" makes the car step fail for good


@dataclass
class SagaOutcome:
    booked: list[str]  # step results, in order
    compensated: list[str]  # compensations, in the order they ran
    error: str


@activity.defn
async def reserve_flight(req: BookingRequest) -> str:
    return f"flight for {req.trip_id}"


@activity.defn
async def reserve_hotel(req: BookingRequest) -> str:
    # A flaky dependency: the first two attempts fail with a retryable error; the retry
    # policy on the call retries it (server side) until attempt 3 succeeds.
    attempt = activity.info().attempt
    if attempt < 3:
        raise RuntimeError(f"hotel service unavailable (attempt {attempt})")
    return f"hotel for {req.trip_id} (succeeded on attempt {attempt})"


@activity.defn
async def reserve_car(req: BookingRequest) -> str:
    if req.car_class == "unavailable":
        # Retrying will not help: non_retryable stops the retry policy at once.
        raise ApplicationError(f"no {req.car_class} car for {req.trip_id}", type="NoCarAvailable", non_retryable=True)
    return f"car for {req.trip_id}"


@activity.defn
async def cancel_flight(req: BookingRequest) -> str:
    return "cancel_flight"


@activity.defn
async def cancel_hotel(req: BookingRequest) -> str:
    return "cancel_hotel"


@activity.defn
async def cancel_car(req: BookingRequest) -> str:
    return "cancel_car"


STEPS = [(reserve_flight, cancel_flight), (reserve_hotel, cancel_hotel), (reserve_car, cancel_car)]


@workflow.defn
class BookingSagaWorkflow:
    @workflow.run
    async def run(self, req: BookingRequest) -> list[str]:
        opts = dict(
            start_to_close_timeout=timedelta(seconds=10),
            retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=100), maximum_attempts=5),
        )
        compensations = []
        booked: list[str] = []
        try:
            for step, compensation in STEPS:
                # Registered *before* the step: a step can take effect and still fail to report
                # back (e.g. a timeout), so its undo must run too. Compensations are idempotent.
                compensations.append(compensation)
                booked.append(await workflow.execute_activity(step, req, **opts))
            return booked
        except ActivityError as err:
            compensated = []
            for compensation in reversed(compensations):
                compensated.append(await workflow.execute_activity(compensation, req, **opts))
            # Fail the workflow (non-retryable, so a workflow retry policy would not rerun the
            # saga), carrying what was booked and undone for the caller.
            raise ApplicationError(
                f"booking {req.trip_id} failed: {err.cause}; compensated: {', '.join(compensated)}",
                SagaOutcome(booked=booked, compensated=compensated, error=str(err.cause)),
                type="BookingFailed",
                non_retryable=True,
            ) from err


async def main(client: Client, car_class: str = "unavailable", trip_id: str | None = None) -> list[str] | SagaOutcome:
    """Runs the saga (workflow id = trip id); returns the bookings on success, or the SagaOutcome on failure."""
    task_queue = f"examples-saga-{uuid.uuid4().hex[:8]}"
    trip_id = trip_id or f"trip-{uuid.uuid4().hex[:8]}"
    activities = [reserve_flight, reserve_hotel, reserve_car, cancel_flight, cancel_hotel, cancel_car]
    async with Worker(client, task_queue=task_queue, workflows=[BookingSagaWorkflow], activities=activities):
        try:
            return await client.execute_workflow(
                BookingSagaWorkflow.run, BookingRequest(trip_id, car_class), id=trip_id, task_queue=task_queue
            )
        except WorkflowFailureError as err:
            failure = err.cause
            assert isinstance(failure, ApplicationError) and failure.type == "BookingFailed", failure
            print(f"  workflow failed as expected: {failure.message}")
            return SagaOutcome(**failure.details[0])
