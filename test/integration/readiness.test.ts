import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serve, type Running } from '../../src/server/main.js';
import { writeKubeconfig } from '../helpers/kubeconfig.js';
import { httpsCall } from '../helpers/https.js';

/**
 * /readyz against live informers. The list endpoint here is a loopback stand-in that holds the
 * Namespace list until the test releases it and does not serve the Gateway API or Istio CRDs
 * (404), which must disable those kinds without blocking readiness. The real kube-apiserver
 * version of this runs in test/e2e.
 */
describe('/readyz waits for the cluster caches to sync', () => {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const api = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const json = (code: number, body: unknown) => res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    if (url.searchParams.get('watch')) return void res.writeHead(200, { 'content-type': 'application/json' }).flushHeaders(); // an idle watch
    if (url.pathname === '/api/v1/namespaces') {
      void released.then(() =>
        json(200, { kind: 'NamespaceList', apiVersion: 'v1', metadata: { resourceVersion: '1' }, items: [{ metadata: { name: 'shop', labels: { 'istio.io/dataplane-mode': 'ambient' } } }] }),
      );
      return;
    }
    if (url.pathname === '/api/v1/services') return json(200, { kind: 'ServiceList', apiVersion: 'v1', metadata: { resourceVersion: '1' }, items: [] });
    json(404, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404 });
  });
  let running: Running;
  let dir: string;
  let ca: string;

  beforeAll(async () => {
    await new Promise<void>((ok) => api.listen(0, '127.0.0.1', ok));
    dir = mkdtempSync(join(tmpdir(), 'meshguard-ready-'));
    const kubeconfig = join(dir, 'kubeconfig');
    const server = `http://127.0.0.1:${(api.address() as AddressInfo).port}`;
    writeKubeconfig(kubeconfig, server);
    running = await serve({ host: '127.0.0.1', port: 0, certsDir: dir, kubeconfig, log: pino({ level: process.env.DEBUG_LOG ? 'debug' : 'silent' }) });
    ca = readFileSync(join(dir, 'ca.crt'), 'utf8');
  });
  afterAll(async () => {
    await running?.close();
    api.closeAllConnections();
    api.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('is 503 naming the pending cache, then 200 once synced', async () => {
    const before = await httpsCall(running.port, '/readyz', { ca });
    expect(before.status).toBe(503);
    expect(before.json().pending).toContain('cache Namespace not synced');
    release();
    const deadline = Date.now() + 10_000;
    let after = before;
    while (after.status !== 200 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      after = await httpsCall(running.port, '/readyz', { ca });
    }
    expect(after.status).toBe(200);
  });
});
