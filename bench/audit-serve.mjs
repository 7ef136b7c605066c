// The background audit inside `meshguard serve` at scale (issue 11): a real kube-apiserver (the e2e
// harness's control plane) holding the cluster of bench/audit-scale.mjs (20,000 Pods and 5,000
// Services in 100 namespaces, objects only) plus the example namespaces, and `meshguard serve
// --kubeconfig --audit-interval` on it, run as its image runs it. While a /mutate client sends the
// example pod review (one request at a time on each of 4 kept-alive connections) for the whole
// measurement, the audit runs again and again; each request is classed by whether an audit was
// running when it was sent (the runs' start and duration from the meshguard_audit_* gauges, polled
// every 250 ms), so the "during" and "idle" samples are interleaved over the same minutes.
// Measures: the audit's duration (meshguard_audit_duration_seconds), RSS (VmRSS sampled every
// second, and VmHWM, the peak), and /mutate p99 during audits against p99 between them.
// Targets (issue 11): RSS <= 350 MB, audit <= 10 s, /mutate p99 during the audit <= 1.5x without.
//
// Usage: npm run bench:audit-serve [-- --sizes 20000,5000,100] [-- --interval 5s] [-- --seconds 120]
//          [-- --baseline DIR --rounds 2]   another build (DIR/dist/cli.js) too, the builds taking turns
// Results: bench/results/audit-serve-latest.json (dated copies are committed by hand).
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { auditClusterObjects, createObjects, e2eHarness, imageNodeFlags, latencySamples, percentiles, ratio, sleep, startServe } from './lib.mjs';

const { startControlPlane, freePort } = await e2eHarness();

const { values } = parseArgs({ options: { sizes: { type: 'string' }, interval: { type: 'string' }, seconds: { type: 'string' }, rounds: { type: 'string' }, baseline: { type: 'string' } } });
const [pods, services, namespaces] = (values.sizes ?? '20000,5000,100').split(',').map(Number);
// The time between the end of one audit and the start of the next: short, so that audits and the
// gaps between them alternate many times while the client runs.
const interval = values.interval ?? '5s';
// Client time per build and round; with --baseline the builds take turns for --rounds rounds.
const seconds = Number(values.seconds ?? 120);
const rounds = Number(values.rounds ?? 1);
// --baseline DIR: also measure another build (DIR/dist/cli.js, e.g. a checkout of an older commit).
const builds = [{ name: 'current', cli: resolve('dist/cli.js'), nodeFlags: imageNodeFlags('.') }];
if (values.baseline) builds.push({ name: 'baseline', cli: resolve(values.baseline, 'dist/cli.js'), nodeFlags: imageNodeFlags(values.baseline) });
const round = (x, digits = 3) => Math.round(x * 10 ** digits) / 10 ** digits;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const log = (...a) => console.log(...a);
const work = mkdtempSync(join(tmpdir(), 'meshguard-audit-serve-'));
const podReview = readFileSync('examples/reviews/pod-create-shop.json', 'utf8');

/** The samples of the gauges this bench reads, from the plain-HTTP /metrics. */
async function gauges(metricsPort) {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const value = (name) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  return { startedAt: value('meshguard_audit_last_run_timestamp_seconds') * 1000, seconds: value('meshguard_audit_duration_seconds'), complete: value('meshguard_audit_complete') };
}

const results = {
  date: new Date().toISOString(),
  machine: { node: process.version, cpus: cpus().length, cpuModel: cpus()[0]?.model, loadavgAtStart: loadavg().map((l) => round(l, 2)) },
  command: `npm run bench:audit-serve -- ${process.argv.slice(2).join(' ')}`.trim(),
  cluster: { pods, services, namespaces },
  auditInterval: interval,
  measureSeconds: seconds,
  rounds,
  targets: { rssMb: 350, auditSeconds: 10, mutateP99Ratio: 1.5 },
};

/**
 * One round of one build: `serve` started on the seeded cluster, the first audit waited for, then
 * the client for `seconds` with the gauges (every 250 ms) and RSS (every second) beside it.
 * Returns the requests, the audit runs seen, and memory.
 */
async function measure(build, cp, label) {
  const metricsPort = await freePort();
  const server = await startServe({
    cli: build.cli,
    nodeFlags: build.nodeFlags,
    port: await freePort(),
    logFile: join(work, `${build.name}-${label}.log`),
    args: ['--certs-dir', join(work, 'certs'), '--kubeconfig', cp.kubeconfig, '--metrics-port', String(metricsPort), '--audit-interval', interval],
  });
  try {
    // The first audit runs once its caches have synced: wait for it, as the figures are for a warm server.
    const t = performance.now();
    let first;
    while (!((first = await gauges(metricsPort)).startedAt > 0)) await sleep(250);
    const start = { readyMs: server.readyMs, firstAuditAfterReadySeconds: round((performance.now() - t) / 1000, 1), firstAuditSeconds: first.seconds, complete: first.complete === 1, rssMb: server.memory().rssMb };
    log(`${build.name} ${label}: ready in ${server.readyMs} ms; first audit ${first.seconds} s (complete: ${start.complete}); RSS ${start.rssMb} MB`);

    const url = `https://127.0.0.1:${server.port}/mutate`;
    await latencySamples({ url, body: podReview, connections: 4, duration: 2 }); // JIT warm-up
    const runs = new Map();
    const rss = [];
    let measuring = true;
    const watch = (async () => {
      for (let i = 0; measuring; i++) {
        const g = await gauges(metricsPort);
        if (g.startedAt > 0) runs.set(g.startedAt, g.seconds);
        if (i % 4 === 0) rss.push(server.memory().rssMb);
        await sleep(250);
      }
    })();
    const samples = await latencySamples({ url, body: podReview, connections: 4, duration: seconds });
    measuring = false;
    await watch;
    // An audit still running when the client stopped shows in the gauges once it ends: wait for the next one to be sure.
    const endedAt = Date.now();
    for (let g = await gauges(metricsPort); ; g = await gauges(metricsPort)) {
      runs.set(g.startedAt, g.seconds);
      if (g.startedAt > endedAt || Date.now() - endedAt > 300_000) break;
      await sleep(250);
    }
    const windows = [...runs]
      .map(([begin, s]) => ({ start: begin, end: begin + s * 1000 }))
      .filter((w) => w.start < endedAt)
      .sort((a, b) => a.start - b.start);
    return { start, samples, windows, rss, memory: server.memory() };
  } finally {
    await server.stop();
  }
}

/**
 * A build's figures over its rounds. Each request is "during" when it was sent while an audit ran,
 * else "idle"; per audit, that run's p99 against the p99 of the gap that follows it.
 */
function figures(rounds) {
  const during = [];
  const idle = [];
  const perRun = [];
  for (const { samples, windows } of rounds) {
    for (const s of samples) (windows.some((w) => s.at >= w.start && s.at < w.end) ? during : idle).push(s.ms);
    for (let i = 0; i < windows.length; i++) {
      const w = windows[i];
      const next = windows[i + 1]?.start ?? Infinity;
      const d = samples.filter((s) => s.at >= w.start && s.at < w.end).map((s) => s.ms);
      const gap = samples.filter((s) => s.at >= w.end && s.at < next).map((s) => s.ms);
      if (d.length >= 100 && gap.length >= 100) perRun.push(ratio(percentiles(d).p99, percentiles(gap).p99));
    }
  }
  const auditSeconds = rounds.flatMap((r) => r.windows.map((w) => round((w.end - w.start) / 1000)));
  const p = { during: percentiles(during), idle: percentiles(idle) };
  const out = {
    starts: rounds.map((r) => r.start),
    audits: { count: auditSeconds.length, seconds: auditSeconds, medianSeconds: median(auditSeconds), maxSeconds: Math.max(...auditSeconds) },
    rss: { maxSampledMb: Math.max(...rounds.flatMap((r) => r.rss)), peakMb: Math.max(...rounds.map((r) => r.memory.peakRssMb)), lastMb: rounds.map((r) => r.memory.rssMb) },
    mutate: { during: p.during, idle: p.idle, p99Ratio: ratio(p.during.p99, p.idle.p99), p99RatioPerAudit: perRun, medianP99RatioPerAudit: perRun.length ? median(perRun) : null },
  };
  out.met = { rss: out.rss.peakMb <= results.targets.rssMb, audit: out.audits.maxSeconds <= results.targets.auditSeconds, mutateP99: out.mutate.p99Ratio <= results.targets.mutateP99Ratio };
  return out;
}

const cp = await startControlPlane();
try {
  const t = performance.now();
  // The pod review's namespace (shop) and the other example namespaces, so /mutate decides as in a real cluster.
  const example = parseAllDocuments(readFileSync('examples/cluster/namespaces.yaml', 'utf8')).map((d) => d.toJS()).filter(Boolean);
  await createObjects(cp.info, [...example, ...auditClusterObjects({ pods, services, namespaces })]);
  results.loadSeconds = round((performance.now() - t) / 1000, 1);
  log(`created ${namespaces} namespaces, ${services} services, ${pods} pods in ${results.loadSeconds} s`);

  // Builds take turns, round by round, so that before and after share the machine's load.
  const measured = Object.fromEntries(builds.map((b) => [b.name, []]));
  for (let r = 0; r < rounds; r++) for (const b of builds) measured[b.name].push(await measure(b, cp.info, `round${r + 1}`));
  results.builds = {};
  for (const b of builds) {
    const f = figures(measured[b.name]);
    results.builds[b.name] = { cli: b.cli, nodeFlags: b.nodeFlags, ...f };
    log(`${b.name}: audits ${f.audits.count}, median ${f.audits.medianSeconds} s, max ${f.audits.maxSeconds} s (target <= 10); RSS peak ${f.rss.peakMb} MB (target <= 350)`);
    log(`${b.name}: /mutate p99 during audits ${f.mutate.during.p99} ms (${f.mutate.during.requests} requests) vs idle ${f.mutate.idle.p99} ms (${f.mutate.idle.requests}): ${f.mutate.p99Ratio}x, median per audit ${f.mutate.medianP99RatioPerAudit} (target <= 1.5)`);
  }
} finally {
  await cp.stop();
  rmSync(work, { recursive: true, force: true });
}
results.machine.loadavgAtEnd = loadavg().map((l) => round(l, 2));
mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/audit-serve-latest.json', `${JSON.stringify(results, null, 2)}\n`);
log('wrote bench/results/audit-serve-latest.json');
