// Hostile objects (issue 7, items 1-3; bench/hostile-cases.mjs), sent from a thread at nice 19
// (bench/hostile-sender.mjs): while each is being answered, a /mutate client on another
// connection (in its own thread, bench/mutate-client.mjs) measures its latency against an idle slice
// taken just before (side by side, because the machine is shared), in several rounds whose median
// ratio is the result (one 4 s window's p99 swings 1.5x on this machine with nothing else running).
// Also the hostile answer's time and size, the audit line's size, the server's RSS during and after,
// and /metrics' size. Usage: npm run bench:hostile [-- --only regex-20,when-keys] [-- --window 4] [-- --rounds 3]
// [-- --cli DIR/dist/cli.js] (another build, for a before/after pair run one after the other) [-- --out FILE]
import { mkdtempSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { request as httpRequest } from 'node:http';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { imageNodeFlags, sleep, startProcess } from './lib.mjs';
import { CASES } from './hostile-cases.mjs';

const { values } = parseArgs({ options: { only: { type: 'string' }, window: { type: 'string' }, rounds: { type: 'string' }, out: { type: 'string' }, cli: { type: 'string' } } });
const only = values.only ? new Set(values.only.split(',')) : undefined;
const windowS = Number(values.window ?? 4);
const rounds = Number(values.rounds ?? 3);
const work = mkdtempSync(join(tmpdir(), 'meshguard-hostile-'));
const PORT = 18543;
const METRICS_PORT = 18544;
const logFile = join(work, 'audit.log');

const podReview = readFileSync('examples/reviews/pod-create-shop.json', 'utf8');
const base = `https://127.0.0.1:${PORT}`;

/** One case's hostile objects for a window, from a thread at nice 19 (bench/hostile-sender.mjs); their answers. */
function sendHostile(name, roundIndex) {
  // Fresh patterns and kinds in every case and round, so no cache answers them.
  const serialBase = 1e9 * Object.keys(CASES).indexOf(name) + 1e8 * roundIndex;
  const worker = new Worker(new URL('./hostile-sender.mjs', import.meta.url), { workerData: { base, name, windowS, serialBase } });
  return new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  }).finally(() => worker.terminate());
}

/** Sequential /mutate requests on one kept-alive connection, from their own thread, until `stop()`; latencies in ms. */
function mutateClient() {
  const worker = new Worker(new URL('./mutate-client.mjs', import.meta.url), { workerData: { url: `${base}/mutate`, body: podReview } });
  const result = new Promise((resolve, reject) => {
    worker.once('message', (m) => (m.error ? reject(new Error(m.error)) : resolve(m.samples)));
    worker.once('error', reject);
  });
  return {
    async stop() {
      worker.postMessage('stop');
      const samples = await result;
      await worker.terminate();
      return summary(samples);
    },
  };
}

function summary(samples) {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q) => round(s[Math.min(s.length - 1, Math.floor(q * s.length))]);
  return { n: s.length, p50: at(0.5), p99: at(0.99), max: round(s[s.length - 1]) };
}
const round = (x) => Math.round(x * 1000) / 1000;

/** One scrape of the server's /metrics: its text, or undefined when the scrape fails. */
function scrape() {
  return new Promise((resolve) => {
    httpRequest(`http://127.0.0.1:${METRICS_PORT}/metrics`, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve(text));
    }).on('error', () => resolve(undefined)).end();
  });
}
const sample = (text, name) => Number(new RegExp(`^${name} (\\S+)`, 'm').exec(text ?? '')?.[1] ?? NaN);

const metricsBytes = async () => Buffer.byteLength((await scrape()) ?? '');

/**
 * The server's event-loop delay since the last scrape (prom-client's monitorEventLoopDelay, reset at
 * each scrape), in ms: what stalls the loop itself, apart from the CPU the machine's other threads take.
 */
async function eventLoopLag() {
  const text = await scrape();
  const ms = (name) => round(sample(text, name) * 1000);
  return text && { p99: ms('nodejs_eventloop_lag_p99_seconds'), max: ms('nodejs_eventloop_lag_max_seconds') };
}

/** The server's heap and external memory in MB, from prom-client's default metrics. */
async function memoryFigures() {
  const text = await scrape();
  const mb = (name) => Math.round(sample(text, name) / 1e5) / 10;
  return text && { heapUsed: mb('nodejs_heap_size_used_bytes'), heapTotal: mb('nodejs_heap_size_total_bytes'), external: mb('nodejs_external_memory_bytes') };
}

function maxLogLine(fromByte) {
  const text = readFileSync(logFile).subarray(fromByte).toString('utf8');
  let max = 0;
  for (const line of text.split('\n')) max = Math.max(max, Buffer.byteLength(line));
  return max;
}

const median = (xs) => round([...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]);

/** One round of a case: /mutate alone for a window, then with the hostile objects for a window. */
async function round1(name, roundIndex) {
  await eventLoopLag();
  const idleClient = mutateClient();
  await sleep(windowS * 1000);
  const idle = await idleClient.stop();
  const lagIdle = await eventLoopLag();
  const rssIdle = await meshguard.rssMb();
  const logFrom = statSync(logFile).size;
  let rssPeak = rssIdle;
  let sampling = true;
  const rssSampler = (async () => {
    while (sampling) {
      rssPeak = Math.max(rssPeak, await meshguard.rssMb().catch(() => 0));
      await sleep(25);
    }
  })();
  const client = mutateClient();
  const answers = await sendHostile(name, roundIndex);
  const during = await client.stop();
  const lagDuring = await eventLoopLag();
  sampling = false;
  await rssSampler;
  await sleep(2000);
  const rssAfter = await meshguard.rssMb();
  return {
    answers,
    auditLineBytesMax: maxLogLine(logFrom),
    idle,
    during,
    p99Ratio: round(during.p99 / idle.p99),
    maxRatio: round(during.max / idle.max),
    eventLoopLagMs: { idle: lagIdle, during: lagDuring },
    rssMb: { idle: Math.round(rssIdle), peak: Math.round(rssPeak), after2s: Math.round(rssAfter) },
  };
}

// As the image runs it (the Dockerfile's node flags): the young generation's size shows in RSS.
const meshguard = await startProcess(
  [...imageNodeFlags('.'), values.cli ?? 'dist/cli.js', 'serve', '--host', '127.0.0.1', '--port', String(PORT), '--metrics-port', String(METRICS_PORT), '--certs-dir', join(work, 'certs'), '--cluster-state', 'examples/cluster'],
  { ready: (s) => s.includes('"meshguard serving"'), logFile },
);
const results = {
  date: new Date().toISOString(),
  machine: { host: hostname(), cpus: cpus().length, model: cpus()[0]?.model, node: process.version },
  cli: values.cli ?? 'dist/cli.js',
  loadavgStart: loadavg().map((x) => round(x)),
  windowSeconds: windowS,
  rounds,
  cases: {},
};
const log = (...a) => console.log(...a);
try {
  // Warm up the JIT on the mutate path.
  const warm = mutateClient();
  await sleep(2000);
  await warm.stop();
  for (const [name, c] of Object.entries(CASES)) {
    if (only && !only.has(name)) continue;
    const runs = [];
    for (let i = 0; i < rounds; i++) runs.push(await round1(name, i));
    const all = runs.flatMap((r) => r.answers);
    const failed = all.filter((a) => a.status !== 200);
    const r = {
      about: c.about,
      requests: all.length,
      statuses: [...new Set(all.map((a) => a.status))],
      errors: [...new Set(failed.map((a) => a.error).filter(Boolean))],
      hostileMsMax: round(Math.max(...all.map((a) => a.ms))),
      responseBytesMax: Math.max(...all.map((a) => a.bytes)),
      auditLineBytesMax: Math.max(...runs.map((x) => x.auditLineBytesMax)),
      // The median round's ratio; each round's figures follow.
      p99Ratio: median(runs.map((x) => x.p99Ratio)),
      maxRatio: median(runs.map((x) => x.maxRatio)),
      rounds: runs.map((x) => ({ ...x, answers: undefined })),
      rssMb: { idle: runs[0].rssMb.idle, peak: Math.max(...runs.map((x) => x.rssMb.peak)), after2s: runs.at(-1).rssMb.after2s },
      metricsBytes: await metricsBytes(),
    };
    results.cases[name] = r;
    log(
      `${name}: ${r.requests} req (${r.statuses.join(',')}), answered in <= ${r.hostileMsMax} ms, response <= ${r.responseBytesMax} B, audit line <= ${r.auditLineBytesMax} B; ` +
        `/mutate p99 ${r.p99Ratio}x (rounds ${runs.map((x) => `${x.idle.p99}->${x.during.p99}`).join(', ')} ms), max ${r.maxRatio}x; ` +
        `event-loop lag max ${runs.map((x) => `${x.eventLoopLagMs.idle?.max}->${x.eventLoopLagMs.during?.max}`).join(', ')} ms; RSS ${r.rssMb.idle} / peak ${r.rssMb.peak} / after ${r.rssMb.after2s} MB; /metrics ${r.metricsBytes} B`,
    );
  }
  // Past the validation workers' idle end (30 s): how near the first idle figure the process comes back.
  await sleep(35_000);
  results.rssAfterAllMb = { firstIdle: Object.values(results.cases)[0]?.rssMb.idle, after35s: Math.round(await meshguard.rssMb()) };
  // Where what stays is held: V8's heap (used and reserved) or outside it (Buffers, native).
  results.memoryAfterAllMb = await memoryFigures();
  log(`RSS after all cases and 35 s: ${results.rssAfterAllMb.after35s} MB (first idle ${results.rssAfterAllMb.firstIdle} MB); ${JSON.stringify(results.memoryAfterAllMb)}`);
} finally {
  await meshguard.stop();
}
results.loadavgEnd = loadavg().map((x) => round(x));
mkdirSync('bench/results', { recursive: true });
const out = values.out ?? 'bench/results/hostile-latest.json';
writeFileSync(out, JSON.stringify(results, null, 2) + '\n');
log(`results written to ${out}`);
