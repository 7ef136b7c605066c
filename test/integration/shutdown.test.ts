import { spawn } from 'node:child_process';
import { Agent } from 'node:https';
import { connect } from 'node:tls';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { httpsCall } from '../helpers/https.js';

const review = readFileSync('examples/reviews/pod-create-shop.json', 'utf8');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** `meshguard serve` as a real process (built dist/), resolved once it logs its port. */
async function startServer(shutdownDelay: string) {
  const dir = mkdtempSync(join(tmpdir(), 'meshguard-term-'));
  const args = ['dist/cli.js', 'serve', '--host', '127.0.0.1', '--port', '0', '--certs-dir', dir, '--cluster-state', 'examples/cluster', '--shutdown-delay', shutdownDelay];
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const port = await new Promise<number>((resolve, reject) => {
    proc.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/"port":(\d+)/);
      if (m) resolve(Number(m[1]));
    });
    proc.on('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
  });
  const exited = new Promise<number | null>((r) => proc.on('exit', r));
  return { proc, port, exited, ca: readFileSync(join(dir, 'ca.crt'), 'utf8'), cleanup: () => (proc.kill('SIGKILL'), rmSync(dir, { recursive: true, force: true })) };
}

describe('SIGTERM', () => {
  let cleanup = () => {};
  afterEach(() => cleanup());

  it('serves normally for the shutdown delay (kept-alive and new connections), then refuses new connections and exits 0', async () => {
    const server = await startServer('1500ms');
    cleanup = server.cleanup;
    const agent = new Agent({ keepAlive: true, maxSockets: 1, ca: server.ca, servername: 'localhost' });
    const onKeptAlive = () => httpsCall(server.port, '/mutate', { ca: server.ca, body: review, agent });
    expect((await onKeptAlive()).status).toBe(200);

    const started = Date.now();
    server.proc.kill('SIGTERM');
    await sleep(300);
    // kube-apiserver still sends here until the endpoint removal has reached it.
    const kept = await onKeptAlive();
    expect(kept.status).toBe(200);
    expect(kept.json().response.patch).toBeTruthy();
    // Served, and the client told to open its next connection anew (through the Service, which
    // sends it elsewhere once the endpoint is gone).
    expect(kept.headers.connection).toBe('close');
    const fresh = await httpsCall(server.port, '/mutate', { ca: server.ca, body: review });
    expect(fresh.status).toBe(200);
    expect(fresh.json().response.patch).toBeTruthy();
    // Not ready any more: the endpoint is taken out on that signal too.
    expect((await httpsCall(server.port, '/readyz', { ca: server.ca })).status).toBe(503);

    await sleep(1_500);
    // After the delay: no new connections, and the process is gone.
    await expect(httpsCall(server.port, '/healthz', { ca: server.ca })).rejects.toThrow(/ECONNREFUSED|ECONNRESET|socket hang up/);
    expect(await server.exited).toBe(0);
    const ms = Date.now() - started;
    expect(ms).toBeGreaterThanOrEqual(1_500);
    agent.destroy();
  });

  it('after the delay, finishes the request in flight, with Connection: close, and exits 0', async () => {
    const server = await startServer('0');
    cleanup = server.cleanup;
    // Send the headers and half the body, then SIGTERM, then the rest: the request is in flight.
    const socket = connect({ host: '127.0.0.1', port: server.port, ca: server.ca, servername: 'localhost' });
    await new Promise((r) => socket.once('secureConnect', r));
    let answer = '';
    socket.on('data', (d) => (answer += d));
    const body = Buffer.from(review);
    socket.write(`POST /mutate HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n`);
    socket.write(body.subarray(0, 100));
    await sleep(200);
    server.proc.kill('SIGTERM');
    await sleep(300);
    socket.end(body.subarray(100));
    await new Promise((r) => socket.on('close', r));
    // Answered (a 503 would fail a Fail-policy create), and the client told to reconnect elsewhere.
    expect(answer).toMatch(/^HTTP\/1\.1 200/);
    expect(answer).toMatch(/\r\nconnection: close\r\n/i);
    expect(answer).toContain('"allowed":true');
    expect(await server.exited).toBe(0);
  });

  it('is not held open by a connection that never sends a request (as kube-apiserver may keep one)', async () => {
    const server = await startServer('0');
    cleanup = server.cleanup;
    const idle = connect({ host: '127.0.0.1', port: server.port, ca: server.ca, servername: 'localhost' });
    await new Promise((r) => idle.once('secureConnect', r));
    idle.on('error', () => {});
    const started = Date.now();
    server.proc.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('rejects a shutdown delay that is not a duration', async () => {
    const proc = spawn(process.execPath, ['dist/cli.js', 'serve', '--shutdown-delay', 'soon'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    proc.stderr.on('data', (d) => (err += d));
    expect(await new Promise((r) => proc.on('exit', r))).toBe(2);
    expect(err).toContain('--shutdown-delay must be a duration such as 5s or 500ms');
  });
});
