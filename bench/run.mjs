// meshguard benchmarks: every figure in one run, side by side with the bare-HTTPS baseline, because
// these machines are shared and noisy. Usage: npm run bench [-- --quick] [-- --only mutate,micro,validate,scale,check]
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { latency, ratio, startProcess, throughput } from './lib.mjs';
import { microDecidePatch } from './micro.mjs';
import { validationBodies } from './validation-bodies.mjs';
import { writeScaleCluster, checkCorpus, checkStartup } from './scale.mjs';

// --baseline DIR: `check` startup is also measured for another build (DIR/dist/cli.js), in turns.
// --rounds N --slice S: more, shorter interleaved rounds when the machine is loaded.
const { values } = parseArgs({ options: { quick: { type: 'boolean' }, only: { type: 'string' }, baseline: { type: 'string' }, rounds: { type: 'string' }, slice: { type: 'string' } } });
const only = values.only ? new Set(values.only.split(',')) : undefined;
const want = (section) => !only || only.has(section);
const rounds = Number(values.rounds ?? (values.quick ? 2 : 5));
const slice = Number(values.slice ?? (values.quick ? 2 : 4));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const work = mkdtempSync(join(tmpdir(), 'meshguard-bench-'));
const os = await import('node:os');
const results = { date: new Date().toISOString(), node: process.version, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, loadavgAtStart: os.loadavg(), command: `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim(), rounds, sliceSeconds: slice, sections: {} };
const log = (...a) => console.log(...a);

const podReview = readFileSync('examples/reviews/pod-create-shop.json', 'utf8');
const certs = join(work, 'certs');

async function startMeshguard(port, clusterState = 'examples/cluster') {
  return startProcess(['dist/cli.js', 'serve', '--host', '127.0.0.1', '--port', String(port), '--certs-dir', certs, '--cluster-state', clusterState], {
    ready: (s) => s.includes('"meshguard serving"'),
    logFile: join(work, `audit-${port}.log`),
  });
}

if (want('micro')) {
  const micro = microDecidePatch(values.quick ? 1 : 3);
  results.sections.micro = micro;
  log(`decide + patch (pure core): ${micro.podsPerSecond.toLocaleString()} pods/s (target >= 100,000)`);
}

if (want('mutate') || want('validate')) {
  const meshguard = await startMeshguard(18443);
  const reference = (mode, port) =>
    startProcess(['bench/baseline-server.mjs', mode, String(port), join(certs, 'tls.crt'), join(certs, 'tls.key')], {
      ready: (s) => s.includes('listening'),
      logFile: join(work, `${mode}.log`),
    });
  const refs = { baseline: await reference('bare', 18444), 'reference-parse': await reference('parse', 18447), 'reference-fastify': await reference('fastify', 18448) };
  /** The server process's CPU time so far (user + system, all threads), in ms, from /proc. */
  const cpuMs = (proc) => {
    const fields = readFileSync(`/proc/${proc.pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime, stime in clock ticks (USER_HZ 100)
  };
  try {
    const base = 'https://127.0.0.1';
    // Targets are measured round-robin in short slices and each figure is the median over rounds, so
    // a burst of load from something else on this shared machine hits every target alike.
    // The target is reference-parse (a webhook must at least read, parse and answer); bare and Fastify are context.
    const targets = [['baseline', `${base}:18444/mutate`, podReview], ['reference-parse', `${base}:18447/mutate`, podReview]];
    if (want('mutate')) targets.push(['mutate', `${base}:18443/mutate`, podReview], ['reference-fastify', `${base}:18448/mutate`, podReview]);
    if (want('validate')) for (const [name, body] of Object.entries(validationBodies())) targets.push([`validate-${name}`, `${base}:18443/validate`, body]);
    for (const [, url, body] of targets) await throughput({ url, body, connections: 8, duration: 2 }); // JIT warm-up
    const runs = Object.fromEntries(targets.map(([name]) => [name, { rps: [], cpuUsPerRequest: [], p50: [], p99: [] }]));
    // CPU time per request of the serving process: what throughput is bounded by, and far less moved
    // by other load on the machine than requests per second are.
    const serverOf = (name) => refs[name] ?? meshguard;
    for (let round = 0; round < rounds; round++) {
      for (const [name, url, body] of targets) {
        const cpuBefore = cpuMs(serverOf(name).proc);
        const t = await throughput({ url, body, connections: 32, duration: slice });
        runs[name].cpuUsPerRequest.push(Math.round(((cpuMs(serverOf(name).proc) - cpuBefore) * 1000) / t.requests));
        const l = await latency({ url, body, connections: 4, duration: slice });
        runs[name].rps.push(t.rps);
        runs[name].p50.push(l.p50);
        runs[name].p99.push(l.p99);
      }
    }
    const figures = (name) => ({ rps: median(runs[name].rps), cpuUsPerRequest: median(runs[name].cpuUsPerRequest), p50: median(runs[name].p50), p99: median(runs[name].p99), rounds: runs[name] });
    const base0 = figures('baseline');
    results.sections.baseline = base0;
    log(`baseline: ${base0.rps} req/s @32, p50 ${base0.p50} ms p99 ${base0.p99} ms @4 (median of ${rounds} rounds)`);
    const ref = figures('reference-parse');
    // Ratios of medians, and the median of each round's ratio (both targets measured within seconds of each other).
    const perRound = (name, key) => median(runs[name][key].map((v, i) => v / runs['reference-parse'][key][i]));
    for (const [name] of targets.slice(1)) {
      const f = figures(name);
      const r = {
        ...f,
        throughputRatio: ratio(f.rps, ref.rps), p50Ratio: ratio(f.p50, ref.p50), p99Ratio: ratio(f.p99, ref.p99),
        roundRatios: { throughput: ratio(perRound(name, 'rps'), 1), p99: ratio(perRound(name, 'p99'), 1) },
        // reference-parse's CPU per request over this one's: the throughput ratio a quiet machine would show.
        cpuThroughputRatio: ratio(1 / perRound(name, 'cpuUsPerRequest'), 1),
        vsBare: { throughputRatio: ratio(f.rps, base0.rps), p50Ratio: ratio(f.p50, base0.p50), p99Ratio: ratio(f.p99, base0.p99) },
      };
      results.sections[name] = r;
      const target = name === 'mutate' ? ' (targets >= 0.70x and <= 1.5x reference-parse)' : '';
      log(`${name}: ${f.rps} req/s @32 (${r.throughputRatio}x reference-parse, ${r.vsBare.throughputRatio}x bare; per-round ${r.roundRatios.throughput}x), CPU ${f.cpuUsPerRequest} us/request (${r.cpuThroughputRatio}x reference-parse's throughput by CPU), p50 ${f.p50} ms p99 ${f.p99} ms @4 (p99 ${r.p99Ratio}x reference-parse, ${r.vsBare.p99Ratio}x bare)${target}`);
    }
  } finally {
    await meshguard.stop();
    for (const ref of Object.values(refs)) await ref.stop();
  }
}

if (want('scale')) {
  const small = await startMeshguard(18445);
  const bigDir = writeScaleCluster(join(work, 'scale'), { namespaces: 5000, services: 50000, waypoints: 2000 });
  const big = await startMeshguard(18446, bigDir);
  try {
    const body = validationBodies().authorizationPolicy;
    const p99 = { small: [], big: [] };
    for (let round = 0; round < rounds; round++) {
      p99.small.push((await latency({ url: 'https://127.0.0.1:18445/validate', body, connections: 4, duration: slice })).p99);
      p99.big.push((await latency({ url: 'https://127.0.0.1:18446/validate', body, connections: 4, duration: slice })).p99);
    }
    const smallRun = { p99: median(p99.small) };
    const bigRun = { p99: median(p99.big) };
    const scale = {
      cluster: { namespaces: 5000, services: 50000, waypoints: 2000 },
      rssMb: Math.round(await big.rssMb()),
      smallRssMb: Math.round(await small.rssMb()),
      p99SmallMs: smallRun.p99,
      p99BigMs: bigRun.p99,
      p99Ratio: ratio(bigRun.p99, smallRun.p99),
    };
    results.sections.scale = scale;
    log(`scale: RSS ${scale.rssMb} MB with 5,000 ns / 50,000 svc / 2,000 waypoints (target <= 300); /validate p99 ${scale.p99BigMs} ms vs ${scale.p99SmallMs} ms small (${scale.p99Ratio}x, target <= 1.2)`);
  } finally {
    await small.stop();
    await big.stop();
  }
}

if (want('check')) {
  const clis = { current: 'dist/cli.js', ...(values.baseline && { baseline: join(values.baseline, 'dist/cli.js') }) };
  const startup = checkStartup(clis, 'examples/bad/pod-mode.yaml', values.quick ? 5 : 15);
  results.sections.checkStartup = { file: 'examples/bad/pod-mode.yaml', ...startup };
  for (const [name, s] of Object.entries(startup)) log(`meshguard check, one small file (${name}): ${s.medianMs} ms, peak RSS ${s.medianRssMb} MB (median; target <= 400 ms)`);
  const check = checkCorpus(join(work, 'check'), 10_000);
  results.sections.check = check;
  log(`meshguard check: ${check.documents} documents in ${check.seconds} s = ${check.docsPerSecond.toLocaleString()} docs/s`);
}

results.loadavgAtEnd = os.loadavg();
mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/latest.json', JSON.stringify(results, null, 2) + '\n');
log('results written to bench/results/latest.json');
