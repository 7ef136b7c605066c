// Connection limits of the admission port (issue 7 item 4): npm run bench:connections [-- --idle 2000]
// [-- --max-connections N]. Starts `meshguard serve`, then measures how long it holds each kind of slow client, how many idle TLS
// connections it keeps and what they cost in RSS, and which TLS suites it accepts. Writes
// bench/results/connections-latest.json with the date, the machine and its load average.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { parseArgs } from 'node:util';
import { sleep, startProcess } from './lib.mjs';

const { values } = parseArgs({
  options: { idle: { type: 'string', default: '2000' }, port: { type: 'string', default: '18643' }, out: { type: 'string', default: 'bench/results/connections-latest.json' }, 'max-connections': { type: 'string' }, cli: { type: 'string', default: 'dist/cli.js' } },
});
const port = Number(values.port);
const work = mkdtempSync(join(tmpdir(), 'meshguard-conn-'));
const server = await startProcess([values.cli, 'serve', '--host', '127.0.0.1', '--port', String(port), '--certs-dir', join(work, 'certs'), '--cluster-state', 'examples/cluster', ...(values['max-connections'] ? ['--max-connections', values['max-connections']] : [])], {
  ready: (s) => s.includes('"meshguard serving"'),
  logFile: join(work, 'serve.log'),
});
const ca = readFileSync(join(work, 'certs', 'ca.crt'));
const rssMb = () => Math.round(Number(readFileSync(`/proc/${server.proc.pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/)[1]) / 1024);
const results = { date: new Date().toISOString(), machine: { node: process.version, cpus: cpus().length, loadavg: { before: loadavg() } }, cli: values.cli, maxConnections: values['max-connections'] ?? 'default' };
const LIMIT_S = 200;

/** Seconds until the server closes a socket (capped at LIMIT_S), while `feed` runs on it. */
function heldFor(socket, feed, label = '') {
  return new Promise((resolve) => {
    const started = Date.now();
    let timer;
    const done = (how) => {
      clearInterval(timer);
      resolve({ seconds: Math.round((Date.now() - started) / 100) / 10, how });
      if (process.env.DEBUG) console.log(label, how, Date.now() - started);
      socket.destroy();
    };
    // Read whatever the server sends (a 408, say): a paused socket never reports its close.
    socket.resume();
    socket.on('close', () => done('closed by server'));
    socket.on('error', () => {});
    setTimeout(() => done(`still open after ${LIMIT_S} s`), LIMIT_S * 1000).unref();
    if (feed) timer = setInterval(() => socket.writable && socket.write(feed()), 1000);
  });
}
const tls = (opts = {}) =>
  new Promise((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port, ca, servername: 'localhost', ...opts }, () => resolve(s));
    s.once('error', reject);
  });

// Slow clients, all at once (each gets its own connection).
const headerBytes = 'POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Slow: ';
let h = 0;
const body = '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}';
let b = 0;
const slow = await Promise.all([
  heldFor(tcpConnect(port, '127.0.0.1'), undefined, 'tcp'),
  tls().then((s) => heldFor(s, undefined, 'tls')),
  tls().then((s) => heldFor(s, () => headerBytes[h++] ?? 'a', 'headers')),
  tls().then((s) => {
    s.write(`POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length + 1000}\r\n\r\n`);
    return heldFor(s, () => body[b++] ?? ' ', 'body');
  }),
  tls().then(async (s) => {
    // One answered request, then the connection is left idle (keep-alive): held 120 s, longer than
    // kube-apiserver's 90 s idle connections (README "Connections").
    s.write(`POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}`);
    await new Promise((r) => s.once('data', r));
    return heldFor(s, undefined, 'keepalive');
  }),
]);
results.heldSeconds = Object.fromEntries(
  ['silentTcp (no ClientHello)', 'tlsNoRequest', 'headersOneBytePerSecond', 'bodyOneBytePerSecond', 'keepAliveIdleAfterResponse'].map((k, i) => [k, slow[i]]),
);
console.log('held:', JSON.stringify(results.heldSeconds));

// Idle TLS connections, opened 100 at a time: how many the server keeps, and what they cost in RSS.
await sleep(1000);
const rssIdle = rssMb();
const idle = [];
let refused = 0;
let closedByServer = 0;
const openStarted = Date.now();
for (let i = 0; i < Number(values.idle); i += 100) {
  const batch = await Promise.allSettled(Array.from({ length: Math.min(100, Number(values.idle) - i) }, () => tls()));
  for (const r of batch) {
    if (r.status === 'rejected') refused++;
    else {
      r.value.on('error', () => {});
      r.value.resume();
      r.value.on('close', () => closedByServer++);
      idle.push(r.value);
    }
  }
}
const openSeconds = (Date.now() - openStarted) / 1000;
await sleep(500);
results.idleConnections = {
  attempted: Number(values.idle), openSeconds, handshakes: idle.length, refused, closedByServerWithin500ms: closedByServer,
  open: idle.length - closedByServer, rssIdleMb: rssIdle, rssWithConnectionsMb: rssMb(),
};
const held = results.idleConnections.open;
results.idleConnections.kbPerOpenConnection = held ? Math.round(((results.idleConnections.rssWithConnectionsMb - rssIdle) * 1024) / held) : null;
console.log('idle connections:', JSON.stringify(results.idleConnections));
for (const s of idle) s.destroy();
await sleep(1000);

// TLS suites: a client that offers only the named TLS 1.2 suite (or protocol).
const suite = async (name, opts) => {
  try {
    const s = await tls(opts);
    const got = s.getCipher().name;
    s.destroy();
    return `accepted (${got})`;
  } catch (err) {
    return `refused (${err.code ?? err.message})`;
  }
};
results.tls = {};
for (const [name, opts] of [
  ['AES128-SHA (static RSA, CBC, SHA-1)', { ciphers: 'AES128-SHA', maxVersion: 'TLSv1.2' }],
  ['AES256-GCM-SHA384 (static RSA)', { ciphers: 'AES256-GCM-SHA384', maxVersion: 'TLSv1.2' }],
  ['ECDHE-RSA-AES128-SHA (CBC, SHA-1)', { ciphers: 'ECDHE-RSA-AES128-SHA', maxVersion: 'TLSv1.2' }],
  ['ECDHE-RSA-AES128-GCM-SHA256', { ciphers: 'ECDHE-RSA-AES128-GCM-SHA256', maxVersion: 'TLSv1.2' }],
  ['ECDHE-RSA-CHACHA20-POLY1305', { ciphers: 'ECDHE-RSA-CHACHA20-POLY1305', maxVersion: 'TLSv1.2' }],
  ['TLS 1.1', { minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' }],
  ['TLS 1.3 default', {}],
])
  results.tls[name] = await suite(name, opts);
console.log('tls:', JSON.stringify(results.tls, null, 1));

results.machine.loadavg.after = loadavg();
await server.stop();
writeFileSync(values.out, JSON.stringify(results, null, 2) + '\n');
console.log(`written to ${values.out}`);
