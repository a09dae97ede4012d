// Starts a Chronicle dev server on a free port with a temp db, or uses
// CHRONICLE_ADDRESS (host:port) when set (e.g. Temporal's own dev server).
// Several comma-separated addresses (a cluster's nodes) are used in turn:
// each read of `address` gives the next, so clients and workers are spread.
import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

const READY_RE = /^Chronicle gRPC listening on (127\.0\.0\.1:\d+)\s*$/;

export interface Server {
  address: string;
  stop(): Promise<void>;
}

export async function startServer(extraArgs: string[] = []): Promise<Server> {
  const external = (process.env.CHRONICLE_ADDRESS ?? '')
    .split(',')
    .map((a) => a.trim())
    .filter((a) => a !== '');
  if (external.length > 0) {
    let turn = 0;
    return {
      get address() {
        return external[turn++ % external.length];
      },
      stop: async () => {},
    };
  }
  const bin = process.env.CHRONICLE_BIN || '/var/tmp/chronicle-target/debug/chronicle';
  const dir = mkdtempSync(join(tmpdir(), 'chronicle-ts-'));
  const child: ChildProcess = spawn(
    bin,
    ['server', 'start-dev', '--port', '0', '--db-filename', join(dir, 'chronicle.db'), '--log-level', 'warn', ...extraArgs],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const address = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${bin} did not print its address within 30s`)), 30_000);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot start ${bin} (set CHRONICLE_BIN): ${err.message}`));
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${bin} exited before listening (code ${code}, signal ${signal})`));
    });
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      const m = READY_RE.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
  });
  return {
    address,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
