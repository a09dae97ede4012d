// Activities run in the test process, so tests can look at what they recorded.
import { ApplicationFailure, Context } from '@temporalio/activity';

export async function greet(name: string): Promise<string> {
  return `Hello, ${name}!`;
}

/** Fails on attempts 1 and 2, succeeds on attempt 3: returns the attempt that succeeded. */
export async function flaky(key: string): Promise<number> {
  const { attempt } = Context.current().info;
  flakyAttempts.set(key, attempt);
  if (attempt < 3) {
    throw ApplicationFailure.retryable(`flaky failure on attempt ${attempt}`, 'FlakyError');
  }
  return attempt;
}

/** Run by a cancelled workflow's cleanup; records which workflow cleaned up. */
export async function cleanup(workflowId: string): Promise<string> {
  cleanedUp.add(workflowId);
  return `cleaned ${workflowId}`;
}

export const flakyAttempts = new Map<string, number>();
export const cleanedUp = new Set<string>();
