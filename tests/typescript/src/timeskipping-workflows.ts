// Workflows that wait days, weeks and months: under time skipping they end at once.
import { ChildWorkflowFailure, executeChild, proxyActivities, sleep, TimeoutFailure } from '@temporalio/workflow';
import type * as activities from './timeskipping-activities';

const { failsOnce } = proxyActivities<typeof activities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '7 days', maximumAttempts: 3 },
});

export async function dayTimer(): Promise<string> {
  await sleep('1 day');
  return 'a day later';
}

export async function weeklyRetry(key: string): Promise<number> {
  return await failsOnce(key);
}

export async function monthlyCron(): Promise<string> {
  return 'tick';
}

export async function slowChild(): Promise<string> {
  await sleep('1 day');
  return 'never';
}

export async function parentOfSlowChild(): Promise<string> {
  try {
    await executeChild(slowChild, { workflowExecutionTimeout: '1 hour' });
    return 'child finished';
  } catch (e) {
    if (e instanceof ChildWorkflowFailure && e.cause instanceof TimeoutFailure) return 'child timed out';
    throw e;
  }
}
