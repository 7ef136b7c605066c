// The background audit runs in a worker thread of its own (src/cluster-audit/audit-worker.ts), so
// the event loop that answers /mutate stays free while it lists, trims and judges a large cluster.
// Measured here as the main thread's event-loop utilization from start-up to the first report over
// 20,000 pods served by a loopback stand-in for the API server: with the audit on the main thread it
// was busy nearly all that time (bench:audit-serve measured /mutate p99 2.3x during audits).
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serve, type Running } from '../../src/server/main.js';
import { AUDIT_NICE } from '../../src/server/thread-priority.js';
import { writeKubeconfig } from '../helpers/kubeconfig.js';
import { threadNices } from '../helpers/threads.js';

const PODS = 20_000;
const pod = (i: number) => ({
  metadata: {
    name: `web-7c9f6-${i}`,
    namespace: `ns-${i % 100}`,
    uid: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    labels: { app: 'web', 'pod-template-hash': '7c9f6' },
    annotations: i % 10 === 0 ? { 'sidecar.istio.io/status': '{"containers":["istio-proxy"]}' } : {},
    ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-7c9f6', uid: 'u', controller: true }],
  },
  spec: { containers: [{ name: 'app', image: 'app:1' }, ...(i % 10 === 0 ? [{ name: 'istio-proxy', image: 'proxyv2:1' }] : [])] },
});
// Serialized once, before the measurement: the stand-in shares the test's (and meshguard's) main thread.
const bodies: Record<string, string> = {
  '/api/v1/namespaces': JSON.stringify({ kind: 'NamespaceList', apiVersion: 'v1', metadata: { resourceVersion: '1' }, items: Array.from({ length: 100 }, (_, i) => ({ metadata: { name: `ns-${i}`, labels: { 'meshguard.io/default-mode': 'ambient' } } })) }),
  '/api/v1/services': JSON.stringify({ kind: 'ServiceList', apiVersion: 'v1', metadata: { resourceVersion: '1' }, items: [] }),
  '/api/v1/pods': JSON.stringify({ kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: '1' }, items: Array.from({ length: PODS }, (_, i) => pod(i)) }),
};

describe('the background audit runs off the event loop', () => {
  const api = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.searchParams.get('watch')) return void res.writeHead(200, { 'content-type': 'application/json' }).flushHeaders(); // an idle watch
    const body = bodies[url.pathname];
    if (body) return void res.writeHead(200, { 'content-type': 'application/json' }).end(body);
    res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404 }));
  });
  let running: Running | undefined;
  let dir: string;
  let kubeconfig: string;

  beforeAll(async () => {
    await new Promise<void>((ok) => api.listen(0, '127.0.0.1', ok));
    dir = mkdtempSync(join(tmpdir(), 'meshguard-audit-thread-'));
    kubeconfig = join(dir, 'kubeconfig');
    const server = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
    writeKubeconfig(kubeconfig, server);
  });
  afterAll(async () => {
    await running?.close();
    api.closeAllConnections();
    api.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it(`judges ${PODS} pods while the main thread's event loop stays mostly idle`, async () => {
    const before = performance.eventLoopUtilization();
    running = await serve({ host: '127.0.0.1', port: 0, certsDir: dir, kubeconfig, auditIntervalMs: 60_000, log: pino({ level: process.env.DEBUG_LOG ? 'debug' : 'silent' }) });
    const deadline = Date.now() + 60_000;
    while (!running.audit?.last() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const elu = performance.eventLoopUtilization(before);
    const last = running.audit?.last();
    expect(last?.report.summary.objects.Pod).toBe(PODS);
    // Every namespace is ambient by meshguard's label only: its Deployment's pods drift (one entry each).
    expect(last?.report.findings.filter((f) => f.rule === 'pod-mode-drift')).toHaveLength(100);
    // Busy: TLS set-up, the namespace list, this loop's polling and the report's gauges. The audit's
    // own list, trim and evaluation of 20,000 pods took nearly all of it on the main thread.
    expect(elu.utilization, `main-thread event-loop utilization ${elu.utilization.toFixed(2)}`).toBeLessThan(0.5);
    // The audit's thread yields the CPU to admission: nice 19 (thread-priority.ts), read from /proc.
    expect(threadNices().map((t) => t.nice)).toContain(AUDIT_NICE);
  });
});
