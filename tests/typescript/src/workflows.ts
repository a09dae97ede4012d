// Workflows, bundled once per test run by the SDK's own bundler (bundleWorkflowCode).
import {
  ApplicationFailure,
  CancellationScope,
  ChildWorkflowFailure,
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  defineUpdate,
  executeChild,
  isCancellation,
  proxyActivities,
  setHandler,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import type * as activities from './activities';

const { greet, cleanup } = proxyActivities<typeof activities>({
  startToCloseTimeout: '10 seconds',
});

const { flaky } = proxyActivities<typeof activities>({
  startToCloseTimeout: '10 seconds',
  retry: { initialInterval: '100 milliseconds', backoffCoefficient: 1, maximumAttempts: 5 },
});

// 1. A workflow with an activity.
export async function greeting(name: string): Promise<string> {
  return await greet(name);
}

// 2. Signals, a query and an update with a validator.
export const addSignal = defineSignal<[number]>('add');
export const finishSignal = defineSignal('finish');
export const valueQuery = defineQuery<number>('value');
export const setValueUpdate = defineUpdate<number, [number]>('setValue');

export async function counter(): Promise<number> {
  let value = 0;
  let finished = false;
  setHandler(addSignal, (n: number) => {
    value += n;
  });
  setHandler(finishSignal, () => {
    finished = true;
  });
  setHandler(valueQuery, () => value);
  setHandler(
    setValueUpdate,
    (n: number) => {
      const previous = value;
      value = n;
      return previous;
    },
    {
      validator: (n: number) => {
        if (n < 0) {
          throw new Error(`value must not be negative, got ${n}`);
        }
      },
    },
  );
  await condition(() => finished);
  return value;
}

// 3. Child workflows.
export async function child(name: string): Promise<string> {
  return `child says hi to ${name}`;
}

export async function failingChild(): Promise<never> {
  throw ApplicationFailure.nonRetryable('child failed on purpose', 'ChildError');
}

export interface ParentResult {
  childResult: string;
  failureName: string;
  failureCauseMessage: string;
  failureCauseType: string;
  failedChildWorkflowType: string;
}

export async function parent(name: string): Promise<ParentResult> {
  const wfId = workflowInfo().workflowId;
  const childResult = await executeChild(child, { args: [name], workflowId: `${wfId}-ok` });
  try {
    await executeChild(failingChild, { workflowId: `${wfId}-fail` });
  } catch (err) {
    if (err instanceof ChildWorkflowFailure) {
      const cause = err.cause;
      return {
        childResult,
        failureName: err.name,
        failureCauseMessage: cause?.message ?? '',
        failureCauseType: cause instanceof ApplicationFailure ? (cause.type ?? '') : '',
        failedChildWorkflowType: err.workflowType,
      };
    }
    throw err;
  }
  throw ApplicationFailure.nonRetryable('failingChild did not fail');
}

// 4. Continue-as-new: countdown(n, acc) continues until n is 0 and returns the sum.
export async function countdown(n: number, acc: number): Promise<number> {
  if (n > 0) {
    await continueAsNew<typeof countdown>(n - 1, acc + n);
  }
  return acc;
}

// 5. A timer, and cancellation of a sleeping workflow that runs its cleanup.
export async function napper(ms: number): Promise<string> {
  const started = Date.now();
  await sleep(ms);
  return `slept ${Date.now() - started}ms`;
}

export async function sleepyWithCleanup(): Promise<string> {
  try {
    await sleep('1 day');
    return 'woke up';
  } catch (err) {
    if (isCancellation(err)) {
      await CancellationScope.nonCancellable(() => cleanup(workflowInfo().workflowId));
    }
    throw err;
  }
}

// 6. An activity failing twice, then succeeding on attempt 3.
export async function retrying(key: string): Promise<number> {
  return await flaky(key);
}
