import { spawn } from 'node:child_process';
import { connect } from 'node:tls';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

const review = readFileSync('examples/reviews/pod-create-shop.json', 'utf8');

/** `meshguard serve` as a real process (built dist/), resolved once it logs its port. */
async function startServer() {
  const dir = mkdtempSync(join(tmpdir(), 'meshguard-term-'));
  const proc = spawn(process.execPath, ['dist/cli.js', 'serve', '--host', '127.0.0.1', '--port', '0', '--certs-dir', dir, '--cluster-state', 'examples/cluster'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
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

  it('stops accepting, finishes the in-flight request and exits 0', async () => {
    const server = await startServer();
    cleanup = server.cleanup;
    // Send the headers and half the body, then SIGTERM, then the rest: the request is in flight.
    const socket = connect({ host: '127.0.0.1', port: server.port, ca: server.ca, servername: 'localhost' });
    await new Promise((r) => socket.once('secureConnect', r));
    let answer = '';
    socket.on('data', (d) => (answer += d));
    const body = Buffer.from(review);
    socket.write(`POST /mutate HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n`);
    socket.write(body.subarray(0, 100));
    await new Promise((r) => setTimeout(r, 200));
    server.proc.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 300));
    socket.end(body.subarray(100));
    await new Promise((r) => socket.on('close', r));
    expect(answer).toMatch(/^HTTP\/1\.1 200/);
    expect(answer).toContain('"allowed":true');
    expect(await server.exited).toBe(0);
  });

  it('is not held open by a connection that never sends a request (as kube-apiserver may keep one)', async () => {
    const server = await startServer();
    cleanup = server.cleanup;
    const idle = connect({ host: '127.0.0.1', port: server.port, ca: server.ca, servername: 'localhost' });
    await new Promise((r) => idle.once('secureConnect', r));
    idle.on('error', () => {});
    const started = Date.now();
    server.proc.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    expect(Date.now() - started).toBeLessThan(5000);
  });
});
