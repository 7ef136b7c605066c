import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONNECTION_LIMITS } from '../../src/server/app.js';
import { serve, type Running } from '../../src/server/main.js';
import { generateCertificates } from '../../src/server/tls.js';

// Issue 7 items 4 and 8: slow clients are cut within the bounds the README gives, connections are
// capped, and the admission port speaks only TLS 1.2+ with forward-secret AEAD suites.
const quiet = pino({ level: 'silent' });
// Timers on a shared, loaded machine fire late; a bound is met if the close comes within this slack.
const SLACK_MS = 3_000;

describe('connection limits and TLS suites of the admission port', () => {
  let dir: string;
  let running: Running;
  let ca: string;
  let cert: { cert: string; key: string };
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'meshguard-conn-'));
    const pair = await generateCertificates();
    ca = pair.ca.cert;
    cert = pair.server;
    writeFileSync(join(dir, 'tls.crt'), cert.cert);
    writeFileSync(join(dir, 'tls.key'), cert.key);
    running = await serve({
      host: '127.0.0.1', port: 0, tlsCert: join(dir, 'tls.crt'), tlsKey: join(dir, 'tls.key'), certPollMs: 100,
      clusterState: 'examples/cluster', log: quiet, maxConnections: 4,
    });
  });
  afterAll(async () => {
    await running?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const tls = (opts: ConnectionOptions = {}) =>
    new Promise<TLSSocket>((resolve, reject) => {
      const s = tlsConnect({ host: '127.0.0.1', port: running.port, ca, servername: 'localhost', ...opts }, () => resolve(s));
      s.once('error', reject);
    });
  /** Milliseconds until the server closes the socket, writing `feed()` every 500 ms meanwhile. */
  const closedAfter = (socket: Socket, feed?: () => string) =>
    new Promise<number>((resolve) => {
      const started = Date.now();
      const timer = feed && setInterval(() => socket.writable && socket.write(feed()), 500);
      socket.on('error', () => {});
      socket.once('close', () => {
        clearInterval(timer);
        resolve(Date.now() - started);
      });
    });

  it('cuts a silent TCP connection, dribbled headers and a dribbled body within their bounds, and keeps an idle kept-alive connection longer than kube-apiserver does', async () => {
    const header = 'POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Slow: ';
    let h = 0;
    const [silent, headers, body, idle] = await Promise.all([
      closedAfter(tcpConnect(running.port, '127.0.0.1')),
      tls().then((s) => closedAfter(s, () => header[h++] ?? 'a')),
      tls().then((s) => {
        s.write('POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{');
        return closedAfter(s, () => ' ');
      }),
      // Answered, left idle past the other bounds (the old 15 s idle bound among them), then used again.
      tls().then(async (s) => {
        const answer = () => new Promise<string>((r) => s.once('data', (d) => r(String(d))));
        s.on('error', () => {});
        s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
        const first = await answer();
        await new Promise((r) => setTimeout(r, CONNECTION_LIMITS.requestMs + CONNECTION_LIMITS.checkEveryMs + SLACK_MS));
        const open = !s.destroyed;
        s.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
        const second = open ? await answer() : '';
        s.destroy();
        return { first, open, second };
      }),
    ]);
    // Each is closed by its own timeout (not earlier) and no later than the README's bound.
    expect(silent).toBeGreaterThanOrEqual(CONNECTION_LIMITS.handshakeMs - 100);
    expect(silent).toBeLessThanOrEqual(CONNECTION_LIMITS.handshakeMs + SLACK_MS);
    expect(headers).toBeGreaterThanOrEqual(CONNECTION_LIMITS.headersMs - 100);
    expect(headers).toBeLessThanOrEqual(CONNECTION_LIMITS.headersMs + CONNECTION_LIMITS.checkEveryMs + SLACK_MS);
    expect(body).toBeGreaterThanOrEqual(CONNECTION_LIMITS.requestMs - 100);
    expect(body).toBeLessThanOrEqual(CONNECTION_LIMITS.requestMs + CONNECTION_LIMITS.checkEveryMs + SLACK_MS);
    // kube-apiserver's webhook client keeps an idle connection 90 s (client-go transport/cache.go via
    // apimachinery SetTransportDefaults: Go's IdleConnTimeout) and does not retry a POST the server
    // closed under it, so the server must keep one longer. bench:connections measures the close itself.
    expect(idle.open).toBe(true);
    expect(idle.second).toMatch(/^HTTP\/1\.1 200/);
    expect(CONNECTION_LIMITS.idleMs).toBeGreaterThan(90_000);
    expect(idle.first).toMatch(new RegExp(`^HTTP/1\\.1 200[^]*\\r\\nkeep-alive: timeout=${CONNECTION_LIMITS.idleMs / 1000}\\r\\n`, 'i'));
  }, 40_000);

  it('closes a connection over the cap at once, and accepts again when one closes', async () => {
    const open = await Promise.all([1, 2, 3, 4].map(() => tls()));
    const refusedIn = Date.now();
    await expect(tls()).rejects.toThrow(/ECONNRESET|socket hang up|disconnected/);
    expect(Date.now() - refusedIn).toBeLessThan(2_000);
    const closed = new Promise((r) => open[0].once('close', r));
    open[0].destroy();
    await closed;
    await new Promise((r) => setTimeout(r, 100));
    const again = await tls();
    expect(again.authorized).toBe(true);
    for (const s of [...open, again]) s.destroy();
  });

  const suites = async () => {
    const outcome = async (opts: ConnectionOptions) => {
      try {
        const s = await tls(opts);
        const name = s.getCipher().name;
        s.destroy();
        return name;
      } catch {
        return 'refused';
      }
    };
    return {
      staticRsaCbcSha1: await outcome({ ciphers: 'AES128-SHA', maxVersion: 'TLSv1.2' }),
      staticRsaGcm: await outcome({ ciphers: 'AES256-GCM-SHA384', maxVersion: 'TLSv1.2' }),
      ecdheCbcSha1: await outcome({ ciphers: 'ECDHE-RSA-AES128-SHA', maxVersion: 'TLSv1.2' }),
      ecdheCbcSha256: await outcome({ ciphers: 'ECDHE-RSA-AES128-SHA256', maxVersion: 'TLSv1.2' }),
      tls11: await outcome({ minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' }),
      ecdheGcm: await outcome({ ciphers: 'ECDHE-RSA-AES128-GCM-SHA256', maxVersion: 'TLSv1.2' }),
      ecdheChacha: await outcome({ ciphers: 'ECDHE-RSA-CHACHA20-POLY1305', maxVersion: 'TLSv1.2' }),
      tls13: await outcome({ minVersion: 'TLSv1.3' }),
    };
  };
  const expected = {
    staticRsaCbcSha1: 'refused',
    staticRsaGcm: 'refused',
    ecdheCbcSha1: 'refused',
    ecdheCbcSha256: 'refused',
    tls11: 'refused',
    ecdheGcm: 'ECDHE-RSA-AES128-GCM-SHA256',
    ecdheChacha: 'ECDHE-RSA-CHACHA20-POLY1305',
    tls13: 'TLS_AES_128_GCM_SHA256',
  };

  it('offers only forward-secret AEAD suites, TLS 1.2 at least, and still after a certificate reload', async () => {
    expect(await suites()).toEqual(expected);
    // Rotate the serving pair; setSecureContext resets any option it is not given.
    const next = await generateCertificates(undefined, undefined, undefined);
    ca = next.ca.cert;
    writeFileSync(join(dir, 'tls.key'), next.server.key);
    writeFileSync(join(dir, 'tls.crt'), next.server.cert);
    const deadline = Date.now() + 10_000;
    for (;;) {
      const ok = await tls().then((s) => (s.destroy(), true), () => false);
      if (ok) break;
      if (Date.now() > deadline) throw new Error('the rotated certificate was not served within 10 s');
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(await suites()).toEqual(expected);
  }, 30_000);
});
