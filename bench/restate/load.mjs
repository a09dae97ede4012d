// Drives N hello workflows at concurrency C through Restate's HTTP ingress
// (each call awaits the result), and reports the figures chronicle-bench
// prints: throughput, latency percentiles, and CPU seconds per workflow of
// the server and of the client side (this generator plus the SDK service).
//
// Env: INGRESS (http://127.0.0.1:8080), N, C, WARMUP, SERVER_PID, SERVICE_PID.
import { readFileSync } from "node:fs";

const ingress = process.env.INGRESS ?? "http://127.0.0.1:8080";
const n = Number(process.env.N ?? 200);
const c = Number(process.env.C ?? 1);
const warmup = Number(process.env.WARMUP ?? Math.min(50, Math.floor(n / 10)));
const serverPid = process.env.SERVER_PID;
const servicePid = process.env.SERVICE_PID;
const HZ = 100; // USER_HZ on Linux

function cpuSecs(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / HZ; // utime, stime
}

function rssMb(pid, key) {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const line = status.split("\n").find((l) => l.startsWith(key + ":"));
  return line ? Number(line.split(/\s+/)[1]) / 1024 : NaN;
}

async function one(id, name) {
  const res = await fetch(`${ingress}/hello/${id}/run`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(name),
  });
  const out = await res.json();
  if (!res.ok || out !== `Hello, ${name}!`) throw new Error(`unexpected ${res.status} ${JSON.stringify(out)}`);
}

async function phase(tag, count) {
  const lat = [];
  let errors = 0;
  let next = 0;
  const t0 = performance.now();
  const runId = `${Date.now()}-${process.pid}`;
  async function lane() {
    while (next < count) {
      const i = next++;
      const s = performance.now();
      try {
        await one(`${tag}-${runId}-${i}`, `bench-${i}`);
        lat.push(performance.now() - s);
      } catch (e) {
        if (errors++ === 0) console.error(`first error: ${e}`);
      }
    }
  }
  await Promise.all(Array.from({ length: c }, lane));
  return { wall: (performance.now() - t0) / 1000, lat, errors };
}

const pct = (sorted, p) => sorted[Math.max(1, Math.ceil((p / 100) * sorted.length)) - 1];

const idleRss = serverPid ? rssMb(serverPid, "VmRSS") : NaN;
if (warmup > 0) await phase("warmup", warmup);
const before = { server: serverPid ? cpuSecs(serverPid) : 0, service: servicePid ? cpuSecs(servicePid) : 0, self: process.cpuUsage() };
const m = await phase("measure", n);
const selfCpu = process.cpuUsage(before.self);
const serverCpu = serverPid ? cpuSecs(serverPid) - before.server : NaN;
const clientCpu = (servicePid ? cpuSecs(servicePid) - before.service : 0) + (selfCpu.user + selfCpu.system) / 1e6;
const sorted = m.lat.sort((a, b) => a - b);
const done = sorted.length;
console.log(
  `server=restate N=${n} C=${c} wf/s=${(done / m.wall).toFixed(1)} p50_ms=${pct(sorted, 50).toFixed(2)} ` +
    `p99_ms=${pct(sorted, 99).toFixed(2)} idle_rss_mb=${idleRss.toFixed(1)} ` +
    `peak_rss_mb=${serverPid ? rssMb(serverPid, "VmHWM").toFixed(1) : "nan"} wall_s=${m.wall.toFixed(2)} ` +
    `server_cpu_ms_per_wf=${((serverCpu * 1e3) / done).toFixed(2)} client_cpu_ms_per_wf=${((clientCpu * 1e3) / done).toFixed(2)} ` +
    `errors=${m.errors}`,
);
process.exit(m.errors > 0 ? 1 : 0);
