import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SNAPSHOT_RESOURCES } from '../../src/cluster/informers.js';
import { watchResource } from '../../src/cluster/reader.js';
import { ClusterStore } from '../../src/cluster/snapshot.js';

/**
 * What the real kube-apiserver does only now and then (test/e2e/cluster-reader.test.ts covers the
 * rest): a watch that ends (resumed from its last bookmark, without a relist), and a resourceVersion
 * too old to watch from (410 Gone, answered with a relist that drops what is gone). The API here is
 * a loopback stand-in that plays one script and records the requests it got.
 */
describe('watchResource: resuming and relisting', () => {
  const requests: string[] = [];
  const svc = (name: string) => ({ metadata: { name, namespace: 'shop', labels: { app: name } } });
  const lists = [
    { items: [svc('a'), svc('b')], rv: '5' },
    { items: [svc('b'), svc('c')], rv: '9' },
  ];
  let watches = 0;
  const api = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://x');
    requests.push(`${url.searchParams.get('watch') ? 'WATCH' : 'LIST'} rv=${url.searchParams.get('resourceVersion') ?? ''}`);
    res.writeHead(200, { 'content-type': 'application/json' });
    if (!url.searchParams.get('watch')) {
      const list = lists.shift()!;
      return void res.end(JSON.stringify({ kind: 'ServiceList', apiVersion: 'v1', metadata: { resourceVersion: list.rv }, items: list.items }));
    }
    const event = (type: string, object: unknown) => res.write(JSON.stringify({ type, object }) + '\n');
    watches++;
    // 1st watch: a bookmark, then the server ends it. 2nd: too old. 3rd: stays open.
    if (watches === 1) {
      event('BOOKMARK', { kind: 'Service', apiVersion: 'v1', metadata: { resourceVersion: '7' } });
      setTimeout(() => res.end(), 50);
    } else if (watches === 2) {
      event('ERROR', { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Expired', code: 410, message: 'too old resource version: 7 (8)' });
      res.end();
    } else res.flushHeaders();
  });
  const store = new ClusterStore();
  let stop = () => {};

  beforeAll(async () => {
    await new Promise<void>((ok) => api.listen(0, '127.0.0.1', ok));
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: `http://127.0.0.1:${(api.address() as AddressInfo).port}`, skipTLSVerify: true }],
      users: [{ name: 'u', token: 't' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    ({ stop } = watchResource(kc, SNAPSHOT_RESOURCES.Service, {
      replace: (items) => store.replace('Service', items),
      upsert: (o) => store.upsert(o),
      remove: (o) => store.remove('Service', o.metadata?.namespace, o.metadata?.name ?? ''),
      state: () => {},
    }, pino({ level: 'silent' }), { minBackoffMs: 20 }));
  });
  afterAll(() => {
    stop();
    api.closeAllConnections();
    api.close();
  });

  it('resumes a watch from its last bookmark, and relists on 410 Gone, dropping what the new list lacks', async () => {
    const deadline = Date.now() + 10_000;
    while (watches < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(requests).toEqual(['LIST rv=', 'WATCH rv=5', 'WATCH rv=7', 'LIST rv=', 'WATCH rv=9']);
    expect([store.service('shop', 'a'), store.service('shop', 'b'), store.service('shop', 'c')].map((s) => s?.metadata?.name)).toEqual([undefined, 'b', 'c']);
  });
});
