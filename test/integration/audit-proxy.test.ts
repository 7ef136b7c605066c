// A kubeconfig that names a proxy (proxy-url) is the one the background audit's thread cannot run on
// credentials carried from the main thread (src/cluster/carried-credentials.ts canCarry): only
// client-node's proxy agents speak it, so that thread loads the kubeconfig itself. Here the audit's
// own reads (Pods: the snapshot store does not hold them) must go through a loopback proxy.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serve, type Running } from '../../src/server/main.js';

const list = (kind: string, items: unknown[]) => JSON.stringify({ kind, apiVersion: 'v1', metadata: { resourceVersion: '1' }, items });
const pod = (i: number) => ({ metadata: { name: `web-${i}`, namespace: 'shop', uid: `u-${i}`, labels: { app: 'web' } }, spec: { containers: [{ name: 'app', image: 'app:1' }] } });
const bodies: Record<string, string> = {
  '/api/v1/namespaces': list('NamespaceList', [{ metadata: { name: 'shop', labels: { 'istio.io/dataplane-mode': 'ambient' } } }]),
  '/api/v1/services': list('ServiceList', []),
  '/api/v1/pods': list('PodList', [pod(1), pod(2), pod(3)]),
};

describe('the background audit through a kubeconfig proxy-url', () => {
  const viaProxy: string[] = [];
  const api = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (tunnels.has(req.socket.remotePort!)) viaProxy.push(url.pathname);
    if (url.searchParams.get('watch')) return void res.writeHead(200, { 'content-type': 'application/json' }).flushHeaders();
    const body = bodies[url.pathname];
    if (body) return void res.writeHead(200, { 'content-type': 'application/json' }).end(body);
    res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404 }));
  });
  // A forward proxy as client-node's proxy agents (hpagent) use one: a CONNECT tunnel per connection.
  // The API server tells tunnelled requests by the tunnel's local port.
  const tunnels = new Set<number>();
  const proxy = createServer();
  proxy.on('connect', (req: IncomingMessage, client: Socket, head: Buffer) => {
    const [host, port] = (req.url ?? '').split(':');
    const upstream = connect(Number(port), host, () => {
      tunnels.add(upstream.localPort!);
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  let running: Running | undefined;
  let dir: string;
  let kubeconfig: string;

  beforeAll(async () => {
    await new Promise<void>((ok) => api.listen(0, '127.0.0.1', ok));
    await new Promise<void>((ok) => proxy.listen(0, '127.0.0.1', ok));
    dir = mkdtempSync(join(tmpdir(), 'meshguard-audit-proxy-'));
    kubeconfig = join(dir, 'kubeconfig');
    const cluster = { server: `http://127.0.0.1:${(api.address() as AddressInfo).port}`, 'insecure-skip-tls-verify': true, 'proxy-url': `http://127.0.0.1:${(proxy.address() as AddressInfo).port}` };
    writeFileSync(kubeconfig, JSON.stringify({ apiVersion: 'v1', kind: 'Config', clusters: [{ name: 'c', cluster }], users: [{ name: 'u', user: { token: 't' } }], contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }], 'current-context': 'x' }));
  });
  afterAll(async () => {
    await running?.close();
    for (const s of [api, proxy]) {
      s.closeAllConnections();
      s.close();
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it("lists the audit's pods through the proxy, from the audit thread's own kubeconfig", async () => {
    running = await serve({ host: '127.0.0.1', port: 0, certsDir: dir, kubeconfig, auditIntervalMs: 60_000, log: pino({ level: process.env.DEBUG_LOG ? 'debug' : 'silent' }) });
    const deadline = Date.now() + 20_000;
    while (!running.audit?.last() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(running.audit?.last()?.report.summary.objects.Pod).toBe(3);
    expect(viaProxy).toContain('/api/v1/pods');
  });
});
