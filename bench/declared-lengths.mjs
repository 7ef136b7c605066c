// What a declared Content-Length costs before its bytes arrive (issue 7): `npm run bench:declared-lengths
// [-- --connections 500] [-- --rounds 2] [-- --cli DIR/dist/cli.js]`. For each round, per declared length
// (100 bytes, then the 6 MiB body limit): opens that many TLS connections, each sending a /validate's
// headers and one byte of its body, then holding; /mutate latency on another connection while they
// open and while they are held, the server's major GCs (prom-client's nodejs_gc_duration_seconds,
// absent until the first) and its RSS. Writes bench/results/declared-lengths-latest.json with the
// date, the machine and its load.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { parseArgs } from 'node:util';
import { latencySamples, percentiles, sleep, startProcess } from './lib.mjs';

const { values } = parseArgs({ options: { connections: { type: 'string', default: '500' }, rounds: { type: 'string', default: '2' }, cli: { type: 'string', default: 'dist/cli.js' }, out: { type: 'string', default: 'bench/results/declared-lengths-latest.json' } } });
const PORT = 18693;
const METRICS = 18694;
const work = mkdtempSync(join(tmpdir(), 'meshguard-declared-'));
const server = await startProcess(['--max-semi-space-size=8', values.cli, 'serve', '--host', '127.0.0.1', '--port', String(PORT), '--metrics-port', String(METRICS), '--certs-dir', join(work, 'certs'), '--cluster-state', 'examples/cluster'], {
  ready: (s) => s.includes('"meshguard serving"'),
  logFile: join(work, 'serve.log'),
});
const url = `https://127.0.0.1:${PORT}/mutate`;
const body = readFileSync('examples/reviews/pod-create-shop.json', 'utf8');
const mutate = async (seconds) => percentiles((await latencySamples({ url, body, connections: 1, duration: seconds })).map((s) => s.ms));
const majorGcs = () =>
  new Promise((resolve) =>
    request(`http://127.0.0.1:${METRICS}/metrics`, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve(Number(/^nodejs_gc_duration_seconds_count\{kind="major"\} (\S+)/m.exec(text)?.[1] ?? 0)));
    }).end(),
  );
const rssMb = () => Math.round(Number(readFileSync(`/proc/${server.proc.pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/)[1]) / 1024);

/** Opens `n` connections declaring `length`, 25 every 100 ms; resolves with the sockets. */
async function openDeclaring(n, length) {
  const sockets = [];
  for (let i = 0; i < n; i++) {
    const s = connect({ host: '127.0.0.1', port: PORT, rejectUnauthorized: false });
    s.on('error', () => {});
    s.once('secureConnect', () => s.write(`POST /validate HTTP/1.1\r\nhost: meshguard\r\ncontent-type: application/json\r\ncontent-length: ${length}\r\n\r\n{`));
    sockets.push(s);
    if (i % 25 === 24) await sleep(100);
  }
  return sockets;
}

const results = { date: new Date().toISOString(), machine: { node: process.version, cpus: cpus().length, model: cpus()[0]?.model, loadavgStart: loadavg() }, cli: values.cli, connections: Number(values.connections), rounds: [] };
try {
  await mutate(2); // warm-up
  for (let r = 0; r < Number(values.rounds); r++) {
    for (const length of [100, 6 * 1024 * 1024]) {
      const idle = await mutate(3);
      const gcBefore = await majorGcs();
      const during = mutate(4);
      const sockets = await openDeclaring(Number(values.connections), length);
      const opening = await during;
      const held = await mutate(3);
      const row = { declared: length, idle, opening, held, majorGcs: (await majorGcs()) - gcBefore, rssMb: rssMb() };
      results.rounds.push(row);
      console.log(`declared ${length} B: /mutate p99 idle ${idle.p99} ms, while ${values.connections} connections open ${opening.p99} ms (${opening.requests} answered), held ${held.p99} ms; major GCs ${row.majorGcs}; RSS ${row.rssMb} MB`);
      for (const s of sockets) s.destroy();
      await sleep(2000);
    }
  }
} finally {
  await server.stop();
}
results.machine.loadavgEnd = loadavg();
writeFileSync(values.out, JSON.stringify(results, null, 2) + '\n');
console.log(`written to ${values.out}`);
