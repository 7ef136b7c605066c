// `meshguard plan` at scale: a real kube-apiserver (the e2e harness's control plane) seeded with 500
// namespaces, 20,000 pods (all with sidecars), 2,000 Services and 2,000 AuthorizationPolicies; times
// `meshguard plan --kubeconfig` end to end (process start to report written) for JSON and HTML, and
// the same cluster read from a file dump (--cluster-state). Target: under 15 s.
//
// Usage: npm run bench:plan [-- --sizes 50,2000,200] [-- --runs 3] [-- --files]
//   --files  also time --cluster-state over a YAML dump of the same cluster (slow: YAML parsing)
// Results: bench/results/plan-latest.json (git-ignored; dated copies are committed by hand).
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { stringify } from 'yaml';
import { createObjects, e2eHarness } from './lib.mjs';

const { startControlPlane } = await e2eHarness();

const { values } = parseArgs({ options: { sizes: { type: 'string' }, runs: { type: 'string' }, files: { type: 'boolean' } } });
const [namespaces, pods, policies] = (values.sizes ?? '500,20000,2000').split(',').map(Number);
const runs = Number(values.runs ?? 3);
const APPS = 4;
const run = promisify(execFile);
const cli = resolve('dist/cli.js');
const work = mkdtempSync(join(tmpdir(), 'meshguard-bench-plan-'));
const log = (...a) => console.log(...a);

/**
 * The cluster: per namespace, APPS Deployments with their Services, pods spread evenly, and
 * policies spread evenly: L4 (ports) on most, an L7 ALLOW in every third namespace and an L7 DENY
 * in every seventh, so the plan has ready and needs-waypoint namespaces and rewrites to write.
 */
function clusterObjects() {
  const docs = [];
  const ns = (i) => `plan-${i}`;
  for (let n = 0; n < namespaces; n++) docs.push({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns(n), labels: { 'istio-injection': 'enabled' } } });
  for (let n = 0; n < namespaces; n++)
    for (let a = 0; a < APPS; a++)
      docs.push({ apiVersion: 'v1', kind: 'Service', metadata: { name: `app-${a}`, namespace: ns(n) }, spec: { selector: { app: `app-${a}` }, ports: [{ port: 8080 }] } });
  for (let p = 0; p < pods; p++) {
    const n = p % namespaces;
    const a = Math.floor(p / namespaces) % APPS;
    docs.push({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: `app-${a}-7d8f9-${p}`,
        namespace: ns(n),
        labels: { app: `app-${a}`, 'pod-template-hash': '7d8f9' },
        annotations: { 'sidecar.istio.io/status': '{"containers":["istio-proxy"],"initContainers":["istio-init"]}' },
        ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `app-${a}-7d8f9`, uid: '00000000-0000-0000-0000-000000000001', controller: true }],
      },
      spec: {
        nodeName: `node-${p % 50}`,
        containers: [
          { name: `app-${a}`, image: `example/app-${a}:1`, resources: { requests: { cpu: '250m', memory: '256Mi' } } },
          { name: 'istio-proxy', image: 'istio/proxyv2:1.31.0', resources: { requests: { cpu: '100m', memory: '128Mi' } } },
        ],
      },
    });
  }
  for (let i = 0; i < policies; i++) {
    const n = i % namespaces;
    const a = Math.floor(i / namespaces) % APPS;
    const l7 = a === 0 && n % 3 === 0 ? { to: [{ operation: { methods: ['GET'], paths: ['/api/*'] } }] } : a === 1 && n % 7 === 0 ? 'deny' : undefined;
    const spec =
      l7 === 'deny'
        ? { selector: { matchLabels: { app: `app-${a}` } }, action: 'DENY', rules: [{ to: [{ operation: { paths: ['/admin*'] } }] }] }
        : { selector: { matchLabels: { app: `app-${a}` } }, rules: [{ from: [{ source: { namespaces: [ns(n)] } }], ...(l7 ?? { to: [{ operation: { ports: ['8080'] } }] }) }] };
    docs.push({ apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: `policy-${i}`, namespace: ns(n) }, spec });
  }
  return docs;
}

/**
 * One `meshguard plan` process: wall time from spawn to exit, its CPU time (user + system, from
 * bash's `time`: on a loaded machine wall time mostly measures the wait for a core), and the size
 * of what it wrote.
 */
async function timePlan(args, out) {
  const start = performance.now();
  const { stderr } = await run('bash', ['-c', 'TIMEFORMAT="%U %S"; time "$@" 2>/dev/null', 'bash', process.execPath, cli, 'plan', ...args, '--out', out], { maxBuffer: 64 * 1024 * 1024 });
  const [user, sys] = stderr.trim().split('\n').pop().split(' ').map(Number);
  return { seconds: (performance.now() - start) / 1000, cpuSeconds: user + sys, bytes: statSync(out).size };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const objects = clusterObjects();
const counts = Object.fromEntries(['Namespace', 'Pod', 'Service', 'AuthorizationPolicy'].map((k) => [k, objects.filter((o) => o.kind === k).length]));
log(`cluster: ${JSON.stringify(counts)}`);

const dump = join(work, 'cluster');
mkdirSync(dump);
if (values.files) for (let f = 0; f * 5000 < objects.length; f++) writeFileSync(join(dump, `part-${f}.yaml`), objects.slice(f * 5000, (f + 1) * 5000).map((d) => stringify(d)).join('---\n'));

const cp = await startControlPlane();
const sources = values.files ? ['live', 'files'] : ['live'];
const results = Object.fromEntries(sources.map((s) => [s, { json: [], html: [] }]));
const cpuSeconds = Object.fromEntries(sources.map((s) => [s, { json: [], html: [] }]));
let summary;
try {
  const seedStart = performance.now();
  await createObjects(cp.info, objects);
  log(`seeded in ${((performance.now() - seedStart) / 1000).toFixed(1)} s`);
  // Interleaved: live and files, JSON and HTML, round after round, so they share the machine's load.
  for (let r = 0; r < runs; r++)
    for (const source of sources)
      for (const format of ['json', 'html']) {
        const args = [...(source === 'live' ? ['--kubeconfig', cp.info.kubeconfig] : ['--cluster-state', dump]), '--format', format];
        const out = join(work, `plan-${source}.${format}`);
        const t = await timePlan(args, out);
        results[source][format].push(t.seconds);
        cpuSeconds[source][format].push(t.cpuSeconds);
        if (format === 'json' && source === 'live') summary = JSON.parse(readFileSync(out, 'utf8')).summary;
        log(`round ${r + 1} ${source} ${format}: ${t.seconds.toFixed(2)} s wall, ${t.cpuSeconds.toFixed(2)} s CPU, ${(t.bytes / 1e6).toFixed(1)} MB`);
      }
} finally {
  await cp.stop();
}

const medianOf = (r) => Object.fromEntries(Object.entries(r).map(([s, f]) => [s, Object.fromEntries(Object.entries(f).map(([k, v]) => [k, Number(median(v).toFixed(2))]))]));
const medians = medianOf(results);
const record = {
  date: new Date().toISOString(),
  machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version },
  loadavg: loadavg().map((l) => Number(l.toFixed(2))),
  cluster: counts,
  runs,
  seconds: results,
  cpuSeconds,
  medianSeconds: medians,
  medianCpuSeconds: medianOf(cpuSeconds),
  target: 'plan --kubeconfig under 15 s (wall)',
  met: medians.live.json < 15 && medians.live.html < 15,
  verdicts: summary?.verdicts,
  pods: summary?.pods,
};
mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/plan-latest.json', `${JSON.stringify(record, null, 2)}\n`);
log(JSON.stringify({ wall: record.medianSeconds, cpu: record.medianCpuSeconds }), `target met: ${record.met}`);
rmSync(work, { recursive: true, force: true });
