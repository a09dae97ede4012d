// The activity of the time-skipping tests: fails its first attempt.
import { ApplicationFailure, Context } from '@temporalio/activity';

export async function failsOnce(_key: string): Promise<number> {
  const { attempt } = Context.current().info;
  if (attempt === 1) throw ApplicationFailure.retryable('first attempt fails', 'FirstAttempt');
  return attempt;
}
