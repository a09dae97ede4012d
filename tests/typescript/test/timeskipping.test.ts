// Chronicle as the TypeScript SDK's time-skipping test server:
// TestWorkflowEnvironment.createTimeSkipping launches `chronicle-test-server
// PORT` (given as an existing path), and workflows that wait days, weeks or
// months end in moments of wall time.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import * as activities from '../src/timeskipping-activities';
import * as wf from '../src/timeskipping-workflows';

const chronicle = process.env.CHRONICLE_BIN || '/var/tmp/chronicle-target/debug/chronicle';
const testServer = join(dirname(chronicle), 'chronicle-test-server');
// The bound the issue sets for each of these workflows.
const WALL_BOUND_MS = 2_000;
const skip = !!process.env.CHRONICLE_ADDRESS;

let env: TestWorkflowEnvironment;
let worker: Worker;
let workerRun: Promise<void>;
const taskQueue = `ts-skip-${randomUUID()}`;

before(async () => {
  if (skip) return;
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const [started, workflowBundle] = await Promise.all([
    TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: testServer } } }),
    bundleWorkflowCode({ workflowsPath: join(__dirname, '..', 'src', 'timeskipping-workflows.ts'), logger: new DefaultLogger('WARN') }),
  ]);
  env = started;
  worker = await Worker.create({ connection: env.nativeConnection, taskQueue, workflowBundle, activities });
  workerRun = worker.run();
});

after(async () => {
  if (worker) {
    worker.shutdown();
    await workerRun;
  }
  await env?.teardown();
});

async function timed<T>(work: Promise<T>): Promise<[T, number]> {
  const began = Date.now();
  const result = await work;
  return [result, Date.now() - began];
}

test('a one-day timer completes at once', { skip, timeout: 30_000 }, async () => {
  const before = await env.currentTimeMs();
  const [result, wall] = await timed(env.client.workflow.execute(wf.dayTimer, { taskQueue, workflowId: `day-${randomUUID()}` }));
  assert.equal(result, 'a day later');
  assert.ok(wall < WALL_BOUND_MS, `took ${wall} ms`);
  assert.ok((await env.currentTimeMs()) - before >= 86_400_000);
});

test('a week-long retry backoff completes at once', { skip, timeout: 30_000 }, async () => {
  const [result, wall] = await timed(
    env.client.workflow.execute(wf.weeklyRetry, { taskQueue, workflowId: `retry-${randomUUID()}`, args: ['k'] }),
  );
  assert.equal(result, 2);
  assert.ok(wall < WALL_BOUND_MS, `took ${wall} ms`);
});

test('a monthly cron runs twice in two months of skipped time', { skip, timeout: 30_000 }, async () => {
  const workflowId = `cron-${randomUUID()}`;
  const handle = await env.client.workflow.start(wf.monthlyCron, { taskQueue, workflowId, cronSchedule: '0 0 1 * *' });
  const [, wall] = await timed(env.sleep('63 days'));
  const statuses: string[] = [];
  for await (const w of env.client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) statuses.push(w.status.name);
  await handle.terminate('done');
  assert.ok(statuses.filter((s) => s === 'COMPLETED').length >= 2, statuses.join(','));
  assert.ok(wall < WALL_BOUND_MS, `took ${wall} ms`);
});

test('a child with a one-hour execution timeout times out at once', { skip, timeout: 30_000 }, async () => {
  const [result, wall] = await timed(
    env.client.workflow.execute(wf.parentOfSlowChild, { taskQueue, workflowId: `parent-${randomUUID()}` }),
  );
  assert.equal(result, 'child timed out');
  assert.ok(wall < WALL_BOUND_MS, `took ${wall} ms`);
});
