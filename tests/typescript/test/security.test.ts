// TLS, mutual TLS and API keys through the TypeScript SDK's own options
// (`tls`, `apiKey` on Connection and NativeConnection): a worker and a
// client with a key for namespace `a` and a client certificate run a
// workflow; the key is refused in namespace `b` (PermissionDenied); a
// connection without a client certificate does not get through.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Client, Connection, TLSConfig } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import * as activities from '../src/activities';
import * as wf from '../src/workflows';
import { Server, startServer } from './server';

const bin = process.env.CHRONICLE_BIN || '/var/tmp/chronicle-target/debug/chronicle';
const dir = mkdtempSync(join(tmpdir(), 'chronicle-ts-tls-'));
const path = (name: string) => join(dir, name);
const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

function certificates(): void {
  openssl('req', '-x509', ...ec, '-keyout', path('ca.key'), '-out', path('ca.pem'), '-days', '2', '-subj', '/CN=ts CA');
  for (const [name, usage] of [['server', 'serverAuth'], ['client', 'clientAuth']]) {
    writeFileSync(path(`${name}.ext`), `subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=${usage}\n`);
    openssl('req', ...ec, '-keyout', path(`${name}.key`), '-out', path(`${name}.csr`), '-subj', `/CN=${name}`);
    openssl('x509', '-req', '-in', path(`${name}.csr`), '-CA', path('ca.pem'), '-CAkey', path('ca.key'),
      '-CAcreateserial', '-out', path(`${name}.pem`), '-days', '2', '-extfile', path(`${name}.ext`));
  }
}

let server: Server;
let key: string;
const skip = process.env.CHRONICLE_ADDRESS ? 'runs its own server' : false;

before(async () => {
  if (skip) return;
  certificates();
  const created = execFileSync(bin, ['auth', 'key', 'create', '--name', 'ts-worker', '--namespace', 'a',
    '--role', 'worker', '--auth-keys', path('keys')]).toString();
  key = /^key: (\S+)$/m.exec(created)![1];
  server = await startServer(['--namespace', 'a', '--namespace', 'b', '--tls-cert', path('server.pem'),
    '--tls-key', path('server.key'), '--tls-client-ca', path('ca.pem'), '--auth-keys', path('keys')]);
});

after(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function tls(withClientCertificate: boolean): TLSConfig {
  return {
    serverRootCACertificate: readFileSync(path('ca.pem')),
    serverNameOverride: 'localhost',
    clientCertPair: withClientCertificate
      ? { crt: readFileSync(path('client.pem')), key: readFileSync(path('client.key')) }
      : undefined,
  };
}

test('a worker and a client with mTLS and a key run a workflow in their namespace only', { skip, timeout: 60_000 }, async () => {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const taskQueue = `ts-tls-${randomUUID()}`;
  const workerConnection = await NativeConnection.connect({ address: server.address, tls: tls(true), apiKey: key });
  const worker = await Worker.create({
    connection: workerConnection,
    namespace: 'a',
    taskQueue,
    workflowBundle: await bundleWorkflowCode({
      workflowsPath: join(__dirname, '..', 'src', 'workflows.ts'),
      logger: new DefaultLogger('WARN'),
    }),
    activities,
  });
  const connection = await Connection.connect({ address: server.address, tls: tls(true), apiKey: key });
  try {
    const result = await worker.runUntil(
      new Client({ connection, namespace: 'a' }).workflow.execute(wf.greeting, {
        args: ['TLS'],
        taskQueue,
        workflowId: `ts-tls-${randomUUID()}`,
      }),
    );
    assert.equal(result, 'Hello, TLS!');

    await assert.rejects(
      new Client({ connection, namespace: 'b' }).workflow.start(wf.greeting, {
        args: ['no'],
        taskQueue,
        workflowId: `ts-tls-${randomUUID()}`,
      }),
      (err: Error & { code?: number }) => {
        assert.match(`${err.message} ${err.cause ?? ''}`, /Request unauthorized/);
        return true;
      },
    );
  } finally {
    await connection.close();
    await workerConnection.close();
  }

  await assert.rejects(async () => {
    const anonymous = await Connection.connect({ address: server.address, tls: tls(false), apiKey: key, connectTimeout: 5_000 });
    try {
      await new Client({ connection: anonymous, namespace: 'a' }).workflow.count();
    } finally {
      await anonymous.close();
    }
  });
});
