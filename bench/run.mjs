// meshguard benchmarks: every figure in one run, side by side with the bare-HTTPS baseline, because
// these machines are shared and noisy. Usage: npm run bench [-- --quick] [-- --only mutate,micro,validate,scale,check]
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { latency, ratio, startProcess, throughput } from './lib.mjs';
import { microDecidePatch } from './micro.mjs';
import { validationBodies } from './validation-bodies.mjs';
import { writeScaleCluster, checkCorpus } from './scale.mjs';

const { values } = parseArgs({ options: { quick: { type: 'boolean' }, only: { type: 'string' } } });
const only = values.only ? new Set(values.only.split(',')) : undefined;
const want = (section) => !only || only.has(section);
const duration = values.quick ? 3 : 10;
const work = mkdtempSync(join(tmpdir(), 'meshguard-bench-'));
const results = { date: new Date().toISOString(), node: process.version, cpus: (await import('node:os')).cpus().length, duration, sections: {} };
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
  const baseline = await startProcess(['bench/baseline-server.mjs', '18444', join(certs, 'tls.crt'), join(certs, 'tls.key')], {
    ready: (s) => s.includes('listening'),
    logFile: join(work, 'baseline.log'),
  });
  try {
    const base = 'https://127.0.0.1';
    const measure = async (url, body) => ({
      throughput: await throughput({ url, body, connections: 32, duration }),
      latency: await latency({ url, body, connections: 4, duration }),
    });
    // Warm both up so the JIT has settled before anything is measured.
    await throughput({ url: `${base}:18443/mutate`, body: podReview, connections: 8, duration: 2 });
    await throughput({ url: `${base}:18444/`, body: podReview, connections: 8, duration: 2 });
    const baselineRun = await measure(`${base}:18444/`, podReview);
    results.sections.baseline = baselineRun;
    log(`baseline: ${baselineRun.throughput.rps} req/s @32, p50 ${baselineRun.latency.p50} ms p99 ${baselineRun.latency.p99} ms @4`);
    const compare = (name, run) => {
      const r = {
        ...run,
        throughputRatio: ratio(run.throughput.rps, baselineRun.throughput.rps),
        p99Ratio: ratio(run.latency.p99, baselineRun.latency.p99),
        p50Ratio: ratio(run.latency.p50, baselineRun.latency.p50),
      };
      results.sections[name] = r;
      log(`${name}: ${run.throughput.rps} req/s @32 (${r.throughputRatio}x baseline), p50 ${run.latency.p50} ms p99 ${run.latency.p99} ms @4 (p99 ${r.p99Ratio}x baseline)`);
    };
    if (want('mutate')) compare('mutate', await measure(`${base}:18443/mutate`, podReview));
    if (want('validate')) {
      for (const [name, body] of Object.entries(validationBodies())) compare(`validate-${name}`, await measure(`${base}:18443/validate`, body));
    }
  } finally {
    await meshguard.stop();
    await baseline.stop();
  }
}

if (want('scale')) {
  const small = await startMeshguard(18445);
  const bigDir = writeScaleCluster(join(work, 'scale'), { namespaces: 5000, services: 50000, waypoints: 2000 });
  const big = await startMeshguard(18446, bigDir);
  try {
    const body = validationBodies().authorizationPolicy;
    const smallRun = await latency({ url: 'https://127.0.0.1:18445/validate', body, connections: 4, duration });
    const bigRun = await latency({ url: 'https://127.0.0.1:18446/validate', body, connections: 4, duration });
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
  const check = checkCorpus(join(work, 'check'), 10_000);
  results.sections.check = check;
  log(`meshguard check: ${check.documents} documents in ${check.seconds} s = ${check.docsPerSecond.toLocaleString()} docs/s`);
}

mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/latest.json', JSON.stringify(results, null, 2) + '\n');
log('results written to bench/results/latest.json');
