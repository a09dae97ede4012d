// Chronicle as the TypeScript SDK's local ephemeral server:
// TestWorkflowEnvironment.createLocal launches the binary given as an
// existing path with the arguments it passes to `temporal server start-dev`.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { TestWorkflowEnvironment } from '@temporalio/testing';

const bin = process.env.CHRONICLE_BIN || '/var/tmp/chronicle-target/debug/chronicle';
const customer = defineSearchAttributeKey('CustomerId', SearchAttributeType.KEYWORD);

test('createLocal runs Chronicle from an existing path', { skip: !!process.env.CHRONICLE_ADDRESS, timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'chronicle-ts-ephemeral-'));
  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: bin },
      namespace: 'ts-ephemeral',
      dbFilename: join(dir, 'ephemeral.db'),
      ui: true,
      log: { format: 'json', level: 'error' },
      searchAttributes: [customer],
      extraArgs: ['--dynamic-config-value', 'limit.historyCount.suggestContinueAsNew=10000'],
    },
  });
  try {
    const workflowId = `ts-ephemeral-${randomUUID()}`;
    const handle = await env.client.workflow.start('Nobody', {
      taskQueue: `nobody-${randomUUID()}`,
      workflowId,
      typedSearchAttributes: [{ key: customer, value: 'c-1' }],
    });
    const described = await handle.describe();
    assert.equal(described.status.name, 'RUNNING');
    assert.equal(env.namespace ?? env.client.options.namespace, 'ts-ephemeral');
    const listed = [];
    for await (const w of env.client.workflow.list({ query: `CustomerId = 'c-1'` })) listed.push(w.workflowId);
    assert.deepEqual(listed, [workflowId]);
  } finally {
    await env.teardown();
    rmSync(dir, { recursive: true, force: true });
  }
});
