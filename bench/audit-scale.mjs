// `meshguard audit --kubeconfig` at scale: a real kube-apiserver (the e2e harness's control plane)
// holding 20,000 Pods and 5,000 Services in 100 namespaces (objects only; nothing runs them), a
// tenth of the pods sidecar pods in namespaces meshguard now puts in ambient (pod-mode-drift).
// Measures the audit's wall time (process start to exit, paged LISTs included) and its peak RSS
// (maxRSS), over several runs.
//
// Usage: npm run bench:audit [-- --sizes 20000,5000,100] [-- --runs 3]
// Results: bench/results/audit-scale-latest.json (dated copies are committed by hand).
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { auditClusterObjects, createObjects, e2eHarness } from './lib.mjs';

const { startControlPlane } = await e2eHarness();

const { values } = parseArgs({ options: { sizes: { type: 'string' }, runs: { type: 'string' } } });
const [pods, services, namespaces] = (values.sizes ?? '20000,5000,100').split(',').map(Number);
const runs = Number(values.runs ?? 3);
const work = mkdtempSync(join(tmpdir(), 'meshguard-audit-scale-'));
const log = (...a) => console.log(...a);

/** Runs the built CLI's audit; the wall time, the process's peak RSS, and its JSON report. */
function audit(kubeconfig) {
  const rssFile = join(work, `rss-${Math.random().toString(36).slice(2)}`);
  const recorder = `import { writeFileSync } from 'node:fs'; process.on('exit', () => writeFileSync(${JSON.stringify(rssFile)}, String(process.resourceUsage().maxRSS)));`;
  const started = performance.now();
  return new Promise((ok, fail) => {
    const child = spawn(process.execPath, ['--import', `data:text/javascript,${encodeURIComponent(recorder)}`, resolve('dist/cli.js'), 'audit', '--kubeconfig', kubeconfig, '--format', 'json', '--fail-on', 'never'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const chunks = [];
    child.stdout.on('data', (c) => chunks.push(c));
    child.on('error', fail);
    child.on('exit', (code) => {
      const seconds = (performance.now() - started) / 1000;
      if (code !== 0) return fail(new Error(`audit exited ${code}`));
      ok({ seconds, maxRssMB: Number(readFileSync(rssFile, 'utf8')) / 1024, report: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
    });
  });
}

const cp = await startControlPlane();
try {
  const t0 = performance.now();
  await createObjects(cp.info, auditClusterObjects({ pods, services, namespaces }));
  log(`created ${namespaces} namespaces, ${services} services, ${pods} pods in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  const results = [];
  for (let r = 0; r < runs; r++) {
    const { seconds, maxRssMB, report } = await audit(cp.info.kubeconfig);
    const drift = report.findings.filter((f) => f.rule === 'pod-mode-drift');
    results.push({ seconds: Number(seconds.toFixed(2)), maxRssMB: Number(maxRssMB.toFixed(0)), findings: report.findings.length, driftOwners: drift.length, driftPods: drift.reduce((n, f) => n + f.pods.count, 0), objects: report.summary.objects, complete: report.complete });
    log(`run ${r + 1}: ${seconds.toFixed(2)} s, max RSS ${maxRssMB.toFixed(0)} MB, ${report.findings.length} findings (${drift.length} drifting workloads)`);
  }
  const out = {
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, model: cpus()[0]?.model, loadavg: loadavg().map((l) => Number(l.toFixed(2))) },
    node: process.version,
    cluster: { pods, services, namespaces },
    what: 'meshguard audit --kubeconfig --format json: process start to exit (paged LISTs of every judged kind, evaluation, JSON output) and the process maxRSS',
    runs: results,
  };
  mkdirSync('bench/results', { recursive: true });
  writeFileSync('bench/results/audit-scale-latest.json', `${JSON.stringify(out, null, 2)}\n`);
  log('wrote bench/results/audit-scale-latest.json');
} finally {
  await cp.stop();
  rmSync(work, { recursive: true, force: true });
}
