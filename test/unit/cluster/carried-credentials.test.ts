// The background audit's thread makes its API requests with credentials the main thread applied
// (src/cluster/carried-credentials.ts): they cross the thread as a structured clone, and a real
// HTTPS request must still verify the API server's CA and carry the token.
import { createServer, type RequestOptions, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canCarry, carriedOptions, remoteCredentials } from '../../../src/cluster/carried-credentials.js';
import { apiGet, ListError } from '../../../src/cluster/list-pages.js';
import { generateCertificates } from '../../../src/server/tls.js';

const TOKEN = 'audit-token-1';

function kubeconfig(cluster: Record<string, unknown>, user: Record<string, unknown>): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromString(
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'c', cluster }],
      users: [{ name: 'u', user }],
      contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
      'current-context': 'x',
    }),
  );
  return kc;
}

/** Credentials as the audit worker holds them: the main thread's options after a thread crossing. */
const acrossThreads = (kc: KubeConfig) => remoteCredentials(kc.getCurrentCluster()!.server, async () => structuredClone(await carriedOptions(kc)));

describe('credentials carried to the audit thread', () => {
  let api: Server;
  let server: string;
  let caData: string;

  beforeAll(async () => {
    const { ca, server: pair } = await generateCertificates(['localhost'], ['127.0.0.1']);
    caData = Buffer.from(ca.cert).toString('base64');
    api = createServer({ cert: pair.cert, key: pair.key }, (req, res) => {
      if (req.headers.authorization !== `Bearer ${TOKEN}`) return void res.writeHead(401, { 'content-type': 'application/json' }).end('{"message":"Unauthorized"}');
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"kind":"NamespaceList","items":[]}');
    });
    await new Promise<void>((ok) => api.listen(0, '127.0.0.1', ok));
    server = `https://127.0.0.1:${(api.address() as AddressInfo).port}`;
  }, 30_000);
  afterAll(() => api.close());

  it('carries the CA and the bearer token: a request from them is verified and authorized', async () => {
    const kc = kubeconfig({ server, 'certificate-authority-data': caData }, { token: TOKEN });
    const carried = structuredClone(await carriedOptions(kc));
    expect(carried.headers).toEqual({ Authorization: `Bearer ${TOKEN}` });
    expect(carried).not.toHaveProperty('agent');
    const res = await apiGet(acrossThreads(kc), '/api/v1/namespaces');
    expect(res.statusCode).toBe(200);
    res.resume();
  });

  it('fails as the kubeconfig says it should: an unknown CA is refused, a wrong token is unauthorized', async () => {
    const noCa = kubeconfig({ server }, { token: TOKEN });
    await expect(apiGet(acrossThreads(noCa), '/api/v1/namespaces')).rejects.toMatchObject({ reason: 'unreachable' });
    const wrongToken = kubeconfig({ server, 'certificate-authority-data': caData }, { token: 'other' });
    const err = await apiGet(acrossThreads(wrongToken), '/api/v1/namespaces').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ListError);
    expect((err as ListError).reason).toBe('unauthorized');
  });

  it('keeps a request option set before, and gives TLS material back as Buffers', async () => {
    const kc = kubeconfig({ server, 'certificate-authority-data': caData }, { token: TOKEN });
    const options: RequestOptions = { headers: { accept: 'application/json' } };
    await acrossThreads(kc).applyToHTTPSOptions(options);
    expect(options.headers).toEqual({ accept: 'application/json', Authorization: `Bearer ${TOKEN}` });
    expect(Buffer.isBuffer(options.ca)).toBe(true);
  });

  it('leaves a kubeconfig with a proxy to the worker itself (client-node proxy agents)', () => {
    expect(canCarry(kubeconfig({ server, 'certificate-authority-data': caData }, { token: TOKEN }))).toBe(true);
    expect(canCarry(kubeconfig({ server, 'proxy-url': 'http://proxy.internal:3128' }, { token: TOKEN }))).toBe(false);
  });
});
