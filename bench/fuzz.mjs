// Seeded fuzz of /mutate and /validate (issue 7): npm run fuzz [-- --seed 7 --count 100000 --out FILE]
// Posts each review as raw JSON text through the built app (Fastify's own parsing, routing and error
// handling, in process), checks every answer (bench/fuzz-reviews.ts) and every log line, and writes
// the tally with the date, the machine and its load average. Exit code 1 on any failure.
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { escapeLineSeparators } from '../dist/client-text.js';
import { ClusterStore } from '../dist/cluster/snapshot.js';
import { MODE_LABELS } from '../dist/mutate/patch.js';
import { loadPolicyFile } from '../dist/policy/load.js';
import { buildApp } from '../dist/server/app.js';
import { createMetrics } from '../dist/server/metrics.js';
import { FUZZ_NAMESPACES, runFuzz } from './fuzz-reviews.ts';

const { values } = parseArgs({
  options: { seed: { type: 'string', default: '7' }, count: { type: 'string', default: '100000' }, out: { type: 'string', default: 'bench/results/fuzz-latest.json' } },
});
const seed = Number(values.seed);
const count = Number(values.count);

const logs = { lines: 0, maxLineBytes: 0, rawLineSeparators: 0 };
const sink = new Writable({
  write(chunk, _enc, done) {
    for (const line of chunk.toString().split('\n')) {
      if (!line) continue;
      logs.lines++;
      logs.maxLineBytes = Math.max(logs.maxLineBytes, Buffer.byteLength(line));
      if (/[\u2028\u2029]/.test(line)) logs.rawLineSeparators++;
    }
    done();
  },
});
const namespaces = Object.entries(FUZZ_NAMESPACES).map(([name, labels]) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } }));
const app = buildApp({
  policy: loadPolicyFile(),
  store: new ClusterStore(namespaces),
  readiness: { ready: () => true, pending: () => [] },
  metrics: createMetrics(),
  log: pino({ level: 'info', hooks: { streamWrite: escapeLineSeparators } }, sink),
});
await app.ready();

const load = { before: loadavg() };
const started = Date.now();
const post = async (url, payload) => {
  const res = await app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json' }, payload });
  return { status: res.statusCode, body: res.body };
};
const result = await runFuzz(post, { seed, count, modeLabels: MODE_LABELS, auditNamespaces: ['audited'] }, (done) =>
  console.log(`${done.toLocaleString()} reviews, ${((Date.now() - started) / 1000).toFixed(0)} s`),
);
load.after = loadavg();
await app.close();

const polluted = Object.keys(Object.prototype).length > 0 || 'polluted' in {};
const report = {
  date: new Date().toISOString(),
  machine: { node: process.version, cpus: cpus().length, model: cpus()[0]?.model, loadavg: load },
  seconds: Math.round((Date.now() - started) / 100) / 10,
  ...result,
  logs,
  objectPrototypePolluted: polluted,
};
writeFileSync(values.out, JSON.stringify(report, null, 2) + '\n');
const failed = result.serverErrors + result.malformed + result.patchFailures + result.modeMismatches + logs.rawLineSeparators + (polluted ? 1 : 0);
console.log(
  `${result.reviews.toLocaleString()} reviews (seed ${seed}) in ${report.seconds} s: statuses ${JSON.stringify(result.byStatus)}; ` +
    `5xx ${result.serverErrors}, malformed ${result.malformed}, patches ${result.patches} (failed ${result.patchFailures}), mode mismatches ${result.modeMismatches}; ` +
    `largest response ${result.maxResponseBytes} B, largest log line ${logs.maxLineBytes} B, raw U+2028/9 lines ${logs.rawLineSeparators}; Object.prototype polluted: ${polluted}`,
);
for (const f of result.failures) console.log(`  #${f.index} ${f.url}: ${f.problem}: ${f.body.slice(0, 160)}`);
console.log(`written to ${values.out}`);
process.exitCode = failed ? 1 : 0;
