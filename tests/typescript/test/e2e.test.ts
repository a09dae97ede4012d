// End-to-end tests of Chronicle driven by the official Temporal TypeScript SDK.
// One server, one workflow bundle and one worker are shared by all tests.
//
// Run: cd tests/typescript && npm ci && npm test
//   CHRONICLE_BIN      the chronicle binary (default /var/tmp/chronicle-target/debug/chronicle)
//   CHRONICLE_ADDRESS  host:port of a running server to use instead (e.g. Temporal's dev server)
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { join } from 'node:path';
import { inspect } from 'node:util';
import {
  CancelledFailure,
  Client,
  Connection,
  WorkflowFailedError,
  WorkflowUpdateFailedError,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import {
  bundleWorkflowCode,
  DefaultLogger,
  LogEntry,
  NativeConnection,
  Runtime,
  Worker,
} from '@temporalio/worker';
import type { temporal } from '@temporalio/proto';
import * as activities from '../src/activities';
import * as wf from '../src/workflows';
import { Server, startServer } from './server';

const TEST_TIMEOUT = 30_000;
const taskQueue = `ts-e2e-${randomUUID()}`;
const uniqueId = (name: string) => `ts-${name}-${randomUUID()}`;

let server: Server;
let connection: Connection;
let client: Client;
let workerConnection: NativeConnection;
let worker: Worker;
let workerRun: Promise<void>;

// The worker logs each failure at WARN; the ones these tests cause on purpose are dropped.
const EXPECTED_FAILURES: Array<[string, string]> = [
  ['Activity failed', 'flaky'],
  ['Workflow failed', 'failingChild'],
];
function logUnexpected(entry: LogEntry): void {
  const type = entry.meta?.activityType ?? entry.meta?.workflowType;
  if (EXPECTED_FAILURES.some(([message, t]) => entry.message === message && type === t)) return;
  const meta = entry.meta ? ` ${inspect(entry.meta, { depth: 4 })}` : '';
  console.error(`[${entry.level}] ${entry.message}${meta}`);
}

before(async () => {
  Runtime.install({ logger: new DefaultLogger('WARN', logUnexpected) });
  const [srv, workflowBundle] = await Promise.all([
    startServer(),
    bundleWorkflowCode({
      workflowsPath: join(__dirname, '..', 'src', 'workflows.ts'),
      logger: new DefaultLogger('WARN'),
    }),
  ]);
  server = srv;
  connection = await Connection.connect({ address: server.address });
  client = new Client({ connection, namespace: 'default' });
  workerConnection = await NativeConnection.connect({ address: server.address });
  worker = await Worker.create({
    connection: workerConnection,
    namespace: 'default',
    taskQueue,
    workflowBundle,
    activities,
  });
  workerRun = worker.run();
});

after(async () => {
  if (worker) {
    worker.shutdown();
    await workerRun;
  }
  await workerConnection?.close();
  await connection?.close();
  await server?.stop();
});

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

async function history(workflowId: string, runId?: string): Promise<HistoryEvent[]> {
  const h = await client.workflow.getHandle(workflowId, runId).fetchHistory();
  return h.events ?? [];
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('1. a workflow with an activity returns its result', { timeout: TEST_TIMEOUT }, async () => {
  const result = await client.workflow.execute(wf.greeting, {
    taskQueue,
    workflowId: uniqueId('greeting'),
    args: ['Chronicle'],
  });
  assert.equal(result, 'Hello, Chronicle!');
});

test('2. signals, a query and an update with a validator', { timeout: TEST_TIMEOUT }, async () => {
  const handle = await client.workflow.start(wf.counter, { taskQueue, workflowId: uniqueId('counter') });
  await handle.signal(wf.addSignal, 2);
  await handle.signal(wf.addSignal, 3);
  assert.equal(await handle.query(wf.valueQuery), 5);

  assert.equal(await handle.executeUpdate(wf.setValueUpdate, { args: [10] }), 5);
  assert.equal(await handle.query(wf.valueQuery), 10);

  const before = (await history(handle.workflowId)).length;
  await assert.rejects(handle.executeUpdate(wf.setValueUpdate, { args: [-1] }), (err: unknown) => {
    assert.ok(err instanceof WorkflowUpdateFailedError, `expected WorkflowUpdateFailedError, got ${err}`);
    assert.ok(err.cause instanceof ApplicationFailure, `expected an ApplicationFailure cause, got ${err.cause}`);
    assert.match(err.cause.message, /value must not be negative, got -1/);
    return true;
  });
  // A rejected update leaves no events.
  assert.equal((await history(handle.workflowId)).length, before);
  assert.equal(await handle.query(wf.valueQuery), 10);

  await handle.signal(wf.finishSignal);
  assert.equal(await handle.result(), 10);

  const events = await history(handle.workflowId);
  assert.equal(events.filter((e) => e.workflowExecutionSignaledEventAttributes).length, 3);
  assert.equal(events.filter((e) => e.workflowExecutionUpdateAcceptedEventAttributes).length, 1);
  assert.equal(events.filter((e) => e.workflowExecutionUpdateCompletedEventAttributes).length, 1);
});

test('3. child workflows, and a failing child reaching the parent as ChildWorkflowFailure', { timeout: TEST_TIMEOUT }, async () => {
  const workflowId = uniqueId('parent');
  const result = await client.workflow.execute(wf.parent, { taskQueue, workflowId, args: ['parent'] });
  assert.deepEqual(result, {
    childResult: 'child says hi to parent',
    failureName: 'ChildWorkflowFailure',
    failureCauseMessage: 'child failed on purpose',
    failureCauseType: 'ChildError',
    failedChildWorkflowType: 'failingChild',
  });
  const events = await history(workflowId);
  assert.equal(events.filter((e) => e.childWorkflowExecutionCompletedEventAttributes).length, 1);
  assert.equal(events.filter((e) => e.childWorkflowExecutionFailedEventAttributes).length, 1);
  const failedChild = await client.workflow.getHandle(`${workflowId}-fail`).describe();
  assert.equal(failedChild.status.name, 'FAILED');
  assert.equal(failedChild.parentExecution?.workflowId, workflowId);
});

test('4. continue-as-new: the result follows the chain, 3 runs are listed', { timeout: TEST_TIMEOUT }, async () => {
  const workflowId = uniqueId('countdown');
  const handle = await client.workflow.start(wf.countdown, { taskQueue, workflowId, args: [2, 0] });
  assert.equal(await handle.result(), 2 + 1 + 0);

  const first = await history(workflowId, handle.firstExecutionRunId);
  const last = first[first.length - 1];
  assert.ok(last.workflowExecutionContinuedAsNewEventAttributes, 'first run ends with ContinuedAsNew');

  // Visibility may lag on Temporal's own server: poll until the three runs are closed.
  const runs = await waitFor('3 closed runs in visibility', async () => {
    const runs = [];
    for await (const info of client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) {
      runs.push(info);
    }
    const closed = runs.filter((r) => r.status.name !== 'RUNNING');
    return runs.length === 3 && closed.length === 3 ? runs : undefined;
  });
  assert.equal(new Set(runs.map((r) => r.runId)).size, 3);
  assert.ok(runs.every((r) => r.workflowId === workflowId && r.type === 'countdown'));
  const statuses = runs.map((r) => r.status.name).sort();
  assert.deepEqual(statuses, ['COMPLETED', 'CONTINUED_AS_NEW', 'CONTINUED_AS_NEW']);
  assert.ok(runs.some((r) => r.runId === handle.firstExecutionRunId));
});

test('5a. a timer', { timeout: TEST_TIMEOUT }, async () => {
  const workflowId = uniqueId('napper');
  const started = Date.now();
  const result = await client.workflow.execute(wf.napper, { taskQueue, workflowId, args: [500] });
  assert.ok(Date.now() - started >= 500, 'the workflow slept at least 500ms');
  const slept = Number(/^slept (\d+)ms$/.exec(result)?.[1]);
  assert.ok(slept >= 500, `workflow time advanced by at least the timer: ${result}`);
  const events = await history(workflowId);
  assert.equal(events.filter((e) => e.timerStartedEventAttributes).length, 1);
  assert.equal(events.filter((e) => e.timerFiredEventAttributes).length, 1);
});

test('5b. cancelling a sleeping workflow runs its cleanup', { timeout: TEST_TIMEOUT }, async () => {
  const workflowId = uniqueId('sleepy');
  const handle = await client.workflow.start(wf.sleepyWithCleanup, { taskQueue, workflowId });
  await waitFor('the workflow to start its timer', async () =>
    (await history(workflowId)).some((e) => e.timerStartedEventAttributes) ? true : undefined,
  );
  await handle.cancel();
  await assert.rejects(handle.result(), (err: unknown) => {
    assert.ok(err instanceof WorkflowFailedError, `expected WorkflowFailedError, got ${err}`);
    assert.ok(err.cause instanceof CancelledFailure, `expected a CancelledFailure cause, got ${err.cause}`);
    return true;
  });
  assert.ok(activities.cleanedUp.has(workflowId), 'the cleanup activity ran');
  const events = await history(workflowId);
  assert.ok(events.some((e) => e.workflowExecutionCancelRequestedEventAttributes));
  assert.ok(events.some((e) => e.timerCanceledEventAttributes));
  assert.equal(events.filter((e) => e.activityTaskCompletedEventAttributes).length, 1);
  assert.ok(events[events.length - 1].workflowExecutionCanceledEventAttributes, 'the run ends Canceled');
  assert.equal((await handle.describe()).status.name, 'CANCELLED');
});

test('6. an activity failing twice succeeds on attempt 3', { timeout: TEST_TIMEOUT }, async () => {
  const workflowId = uniqueId('retrying');
  const result = await client.workflow.execute(wf.retrying, { taskQueue, workflowId, args: [workflowId] });
  assert.equal(result, 3);
  assert.equal(activities.flakyAttempts.get(workflowId), 3);
  const events = await history(workflowId);
  const started = events.filter((e) => e.activityTaskStartedEventAttributes);
  assert.equal(started.length, 1, 'retries write no events: one ActivityTaskStarted');
  assert.equal(started[0].activityTaskStartedEventAttributes?.attempt, 3);
  const lastFailure = started[0].activityTaskStartedEventAttributes?.lastFailure;
  assert.match(lastFailure?.message ?? '', /flaky failure on attempt 2/);
  assert.equal(events.filter((e) => e.activityTaskCompletedEventAttributes).length, 1);
});
