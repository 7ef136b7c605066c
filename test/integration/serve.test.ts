import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serve, type Running } from '../../src/server/main.js';
import { generateCa, generateCertificates } from '../../src/server/tls.js';
import { httpsCall } from '../helpers/https.js';

const review = JSON.parse(readFileSync('examples/reviews/pod-create-shop.json', 'utf8'));
const quiet = pino({ level: 'silent' });

describe('meshguard serve over real HTTPS on loopback (dev certificates, standalone cluster)', () => {
  let dir: string;
  let running: Running;
  let ca: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'meshguard-serve-'));
    running = await serve({ host: '127.0.0.1', port: 0, metricsPort: 0, certsDir: dir, clusterState: 'examples/cluster', log: quiet });
    ca = readFileSync(join(dir, 'ca.crt'), 'utf8');
  });
  afterAll(async () => {
    await running?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('generates a sha256 dev certificate with the chart SANs and reuses it', async () => {
    const pem = readFileSync(join(dir, 'tls.crt'), 'utf8');
    const cert = new X509Certificate(pem);
    expect(cert.subjectAltName).toMatch(/DNS:localhost/);
    expect(cert.subjectAltName).toMatch(/DNS:meshguard\.meshguard\.svc/);
    expect(cert.subjectAltName).toMatch(/IP Address:127\.0\.0\.1/);
    expect(cert.verify(new X509Certificate(ca).publicKey)).toBe(true);
    const second = await serve({ host: '127.0.0.1', port: 0, certsDir: dir, log: quiet });
    await second.close();
    expect(readFileSync(join(dir, 'tls.crt'), 'utf8')).toBe(pem);
  });

  it('POST /mutate patches the example pod', async () => {
    const res = await httpsCall(running.port, '/mutate', { ca, body: review });
    expect(res.status).toBe(200);
    const { response } = res.json();
    expect(response.uid).toBe(review.request.uid);
    const ops = JSON.parse(Buffer.from(response.patch, 'base64').toString());
    expect(ops).toContainEqual({ op: 'add', path: '/metadata/labels/istio.io~1dataplane-mode', value: 'ambient' });
  });

  it('/healthz and /readyz answer on the TLS port; /metrics on the plain metrics port only', async () => {
    expect((await httpsCall(running.port, '/healthz', { ca })).status).toBe(200);
    expect((await httpsCall(running.port, '/readyz', { ca })).status).toBe(200);
    expect((await httpsCall(running.port, '/metrics', { ca })).status).toBe(404);
    const metrics = await fetch(`http://127.0.0.1:${running.metricsPort}/metrics`);
    const text = await metrics.text();
    expect(text).toMatch(/meshguard_admission_requests_total\{webhook="mutate",kind="Pod",operation="CREATE",result="patched"\}/);
    expect(text).toMatch(/meshguard_cache_synced\{kind="Namespace"\} 1/);
    expect(text).toMatch(/process_cpu_seconds_total/);
  });

  it('refuses plain HTTP on the admission port', async () => {
    await expect(fetch(`http://127.0.0.1:${running.port}/healthz`)).rejects.toThrow();
  });
});

describe('certificate rotation', () => {
  it('swaps the serving certificate without a restart and without a failed request', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'meshguard-rotate-'));
    const ca = await generateCa();
    const first = await generateCertificates(['localhost'], ['127.0.0.1'], ca);
    const next = await generateCertificates(['localhost'], ['127.0.0.1'], ca);
    const certFile = join(dir, 'tls.crt');
    const keyFile = join(dir, 'tls.key');
    writeFileSync(certFile, first.server.cert);
    writeFileSync(keyFile, first.server.key);
    const running = await serve({ host: '127.0.0.1', port: 0, tlsCert: certFile, tlsKey: keyFile, log: quiet, certPollMs: 50 });
    const fingerprint = (pem: string) => new X509Certificate(pem).fingerprint256;
    try {
      let failures = 0;
      let sent = 0;
      const seen = new Set<string>();
      let stop = false;
      const client = (async () => {
        while (!stop) {
          sent++;
          try {
            const res = await httpsCall(running.port, '/mutate', { ca: ca.cert, body: review });
            if (res.status !== 200 || !res.json().response.allowed) failures++;
            if (res.peerFingerprint) seen.add(res.peerFingerprint);
          } catch {
            failures++;
          }
        }
      })();
      await new Promise((r) => setTimeout(r, 300));
      // A Secret update is not atomic for a naive writer: the cert lands before the key.
      writeFileSync(certFile, next.server.cert);
      await new Promise((r) => setTimeout(r, 150));
      writeFileSync(keyFile, next.server.key);
      const deadline = Date.now() + 10_000;
      while (!seen.has(fingerprint(next.server.cert)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      await new Promise((r) => setTimeout(r, 300));
      stop = true;
      await client;
      expect(sent).toBeGreaterThan(10);
      expect(failures).toBe(0);
      expect(seen).toEqual(new Set([fingerprint(first.server.cert), fingerprint(next.server.cert)]));
    } finally {
      await running.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
