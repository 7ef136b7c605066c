// Live mode at scale: `meshguard serve --kubeconfig` against a real kube-apiserver (the e2e harness's
// control plane, test/e2e/control-plane.ts) holding 5,000 namespaces, 50,000 Services and 2,000
// waypoints, beside the same build against a second API server holding the small example cluster.
// Measures time to ready (spawn to /readyz 200), RSS once ready (VmRSS) and its peak (VmHWM, what a
// memory limit must hold), and /validate p99 on the big cluster against the small one, round-robin.
//
// Usage: npm run bench:scale [-- --quick] [-- --baseline DIR] [-- --sizes 500,5000,200] [-- --audit-interval 0]
// (--audit-interval: passed to serve; without it, serve's default, the background audit on)
//   --baseline DIR   also measure another build (DIR/dist/cli.js, e.g. a checkout of an older commit),
//                    interleaved with this one, so before and after share the machine's load.
// Results: bench/results/scale-live-latest.json (dated copies are committed by hand).
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { createObjects, e2eHarness, imageNodeFlags, latency, ratio, sleep, startServe } from './lib.mjs';
import { scaleClusterObjects } from './scale.mjs';
import { validationBodies } from './validation-bodies.mjs';

const { startControlPlane, freePort } = await e2eHarness();

const { values } = parseArgs({ options: { quick: { type: 'boolean' }, baseline: { type: 'string' }, sizes: { type: 'string' }, 'audit-interval': { type: 'string' } } });
// --sizes N,S,W: a smaller cluster, to try the script out (the recorded runs use the default).
const [namespaces, services, waypoints] = (values.sizes ?? '5000,50000,2000').split(',').map(Number);
const SIZES = { namespaces, services, waypoints };
const rounds = values.quick ? 2 : 5;
const slice = values.quick ? 2 : 4;
const startRounds = values.quick ? 1 : 3;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const log = (...a) => console.log(...a);
const work = mkdtempSync(join(tmpdir(), 'meshguard-scale-live-'));
// Each build runs as its image runs it.
const builds = [{ name: 'current', cli: resolve('dist/cli.js'), nodeFlags: imageNodeFlags('.') }];
if (values.baseline) builds.push({ name: 'baseline', cli: resolve(values.baseline, 'dist/cli.js'), nodeFlags: imageNodeFlags(values.baseline) });

/** Starts `serve --kubeconfig` on a cluster; resolves once /readyz answers 200. */
async function startLive(build, cp, label) {
  const port = await freePort();
  return startServe({ cli: build.cli, nodeFlags: build.nodeFlags, port, logFile: join(work, `${build.name}-${label}-${port}.log`), args: ['--certs-dir', join(work, 'certs'), '--kubeconfig', cp.kubeconfig, '--log-level', 'warn', ...(values['audit-interval'] ? ['--audit-interval', values['audit-interval']] : [])] });
}

const results = {
  date: new Date().toISOString(),
  machine: { node: process.version, cpus: cpus().length, cpuModel: cpus()[0]?.model, loadavgAtStart: loadavg().map((l) => Math.round(l * 100) / 100) },
  command: `npm run bench:scale -- ${process.argv.slice(2).join(' ')}`.trim(),
  cluster: SIZES,
  rounds,
  sliceSeconds: slice,
  builds: {},
};

const big = await startControlPlane();
const small = await startControlPlane();
const running = [];
try {
  let t = performance.now();
  await createObjects(big.info, scaleClusterObjects(SIZES).map((o) => (o.kind === 'Service' ? { ...o, spec: { ...o.spec, clusterIP: 'None' } } : o)));
  results.loadSeconds = Math.round((performance.now() - t) / 100) / 10;
  log(`loaded ${SIZES.namespaces} namespaces, ${SIZES.services} Services, ${SIZES.waypoints} waypoints in ${results.loadSeconds} s`);
  const example = ['namespaces.yaml', 'waypoints.yaml'].flatMap((f) => parseAllDocuments(readFileSync(join('examples/cluster', f), 'utf8')).map((d) => d.toJS())).filter(Boolean);
  await createObjects(small.info, example);

  // Time to ready and memory: each build started on the big cluster alone, in turn, `startRounds` times.
  for (const b of builds) results.builds[b.name] = { cli: b.cli, nodeFlags: b.nodeFlags, readyMs: [], rssMb: [], peakRssMb: [] };
  for (let r = 0; r < startRounds; r++) {
    for (const b of builds) {
      const s = await startLive(b, big.info, 'big');
      await sleep(5000);
      const m = await s.memory();
      const f = results.builds[b.name];
      f.readyMs.push(s.readyMs);
      f.rssMb.push(m.rssMb);
      f.peakRssMb.push(m.peakRssMb);
      log(`${b.name}: ready in ${s.readyMs} ms; RSS ${m.rssMb} MB, peak ${m.peakRssMb} MB`);
      if (r === startRounds - 1) running.push({ build: b, big: s });
      else await s.stop();
    }
  }

  // /validate p99, big cluster against small, every target round-robin.
  const body = validationBodies().authorizationPolicy;
  const targets = [];
  for (const entry of running) {
    entry.small = await startLive(entry.build, small.info, 'small');
    targets.push([`${entry.build.name}-small`, entry.small.port], [`${entry.build.name}-big`, entry.big.port]);
  }
  for (const [, port] of targets) await latency({ url: `https://127.0.0.1:${port}/validate`, body, connections: 4, duration: 1 }); // warm-up
  const p99 = Object.fromEntries(targets.map(([name]) => [name, []]));
  for (let round = 0; round < rounds; round++) {
    for (const [name, port] of targets) p99[name].push((await latency({ url: `https://127.0.0.1:${port}/validate`, body, connections: 4, duration: slice })).p99);
  }
  for (const entry of running) {
    const f = results.builds[entry.build.name];
    f.smallRssMb = (await entry.small.memory()).rssMb;
    f.p99SmallMs = median(p99[`${entry.build.name}-small`]);
    f.p99BigMs = median(p99[`${entry.build.name}-big`]);
    f.p99Ratio = ratio(f.p99BigMs, f.p99SmallMs);
    f.p99Rounds = { small: p99[`${entry.build.name}-small`], big: p99[`${entry.build.name}-big`] };
    f.medianReadyMs = median(f.readyMs);
    f.maxPeakRssMb = Math.max(...f.peakRssMb);
    log(`${entry.build.name}: ready ${f.medianReadyMs} ms (median), RSS ${median(f.rssMb)} MB, peak ${f.maxPeakRssMb} MB (target <= 300); /validate p99 ${f.p99BigMs} ms vs ${f.p99SmallMs} ms small (${f.p99Ratio}x, target <= 1.2)`);
  }
} finally {
  for (const entry of running) {
    await entry.big?.stop();
    await entry.small?.stop();
  }
  await small.stop();
  await big.stop();
  rmSync(work, { recursive: true, force: true });
}
results.machine.loadavgAtEnd = loadavg().map((l) => Math.round(l * 100) / 100);
mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/scale-live-latest.json', JSON.stringify(results, null, 2) + '\n');
log('results written to bench/results/scale-live-latest.json');
