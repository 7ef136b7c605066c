// Pod CREATE through a real kube-apiserver, five ways side by side: a namespace meshguard handles
// (the chart's webhooks), one handled by a no-op webhook of our own (noop-webhook.mjs: the floor of
// the webhook mechanism in Node), one handled by the same no-op returning a constant patch equal to
// meshguard's (what kube-apiserver spends applying a mutation), that patching no-op served over
// HTTP/2 (what HTTP/2 would change), and one with no webhook. Interleaved rounds of sequential creates
// (latency; kube-apiserver's own admission metrics say where each config's time goes:
// apiserver-steps.ts), then interleaved bursts at 50 concurrent (throughput), then meshguard's RSS.
// Results: bench/results/pod-create-latest.json (git-ignored); copy it to a dated file to record it.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { eventually, freePort, startProcess, type Proc } from '../../test/e2e/control-plane.js';
import { CLI, createNamespace, DECISION, meshguardWithWebhooks, timedPodCreate } from '../../test/e2e/meshguard-process.js';
import { apply, removeWebhooks, type Rendered } from '../../test/e2e/webhooks.js';
import { accumulate, means, scrape, type Totals } from './apiserver-steps.js';

const cp = inject('controlPlane');
const RESULTS = fileURLToPath(new URL('../results/pod-create-latest.json', import.meta.url));
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const SEQUENTIAL = 200;
const BURSTS = Number(process.env.BURSTS ?? 3);
const BURST = 1000;
const CONCURRENCY = 50;
const WARMUP = 30;

const CONFIGS = ['meshguard', 'noop', 'noopPatch', 'noopPatchH2', 'none'] as const;
type Config = (typeof CONFIGS)[number];
const NS: Record<Config, string> = { meshguard: 'bench-meshguard', noop: 'bench-noop', noopPatch: 'bench-noop-patch', noopPatchH2: 'bench-noop-patch-h2', none: 'bench-none' };
const PATCHED: Config[] = ['meshguard', 'noopPatch', 'noopPatchH2'];

let env: Awaited<ReturnType<typeof meshguardWithWebhooks>>;
let noops: Proc[] = [];
let noopConfig: Rendered[] = [];

beforeAll(async () => {
  env = await meshguardWithWebhooks(cp);
  const dir = mkdtempSync(join(cp.dir, 'noop-'));
  const certs = spawnSync(process.execPath, [CLI, 'certs', '--out', dir, '--dns', 'localhost', '--ip', '127.0.0.1'], { encoding: 'utf8' });
  if (certs.status !== 0) throw new Error(`meshguard certs failed: ${certs.stderr}`);
  const script = fileURLToPath(new URL('./noop-webhook.mjs', import.meta.url));
  const caBundle = Buffer.from(readFileSync(join(dir, 'ca.crt'))).toString('base64');
  const noopWebhook = async (name: string, selector: string, mode: string[]) => {
    const port = await freePort();
    const proc = startProcess(name, process.execPath, [script, String(port), join(dir, 'tls.crt'), join(dir, 'tls.key'), ...mode], { logFile: join(dir, `${name}.log`) });
    const webhook = {
      name: `${name}.bench.meshguard.io`,
      clientConfig: { url: `https://127.0.0.1:${port}/mutate`, caBundle },
      rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] }],
      namespaceSelector: { matchLabels: { [selector]: 'true' } },
      // As meshguard's pod mutation is shipped: fail open, 3 s.
      failurePolicy: 'Ignore',
      timeoutSeconds: 3,
      sideEffects: 'None',
      admissionReviewVersions: ['v1'],
    };
    // failurePolicy Ignore would hide a dead no-op: wait until it listens, and check it still runs at the end.
    await eventually(`${name} listening`, () => Promise.resolve(readFileSync(proc.logFile, 'utf8').includes('no-op webhook on')), 10_000, 100);
    return { proc, webhook };
  };
  const plain = await noopWebhook('noop', 'bench.meshguard.io/noop', []);
  const patching = await noopWebhook('noop-patch', 'bench.meshguard.io/noop-patch', ['patch']);
  const patchingH2 = await noopWebhook('noop-patch-h2', 'bench.meshguard.io/noop-patch-h2', ['patch', 'h2']);
  noops = [plain.proc, patching.proc, patchingH2.proc];
  noopConfig = [{ apiVersion: 'admissionregistration.k8s.io/v1', kind: 'MutatingWebhookConfiguration', metadata: { name: 'bench-noop' }, webhooks: [plain.webhook, patching.webhook, patchingH2.webhook] }];
  await apply(cp, noopConfig);
  await createNamespace(cp, NS.meshguard, { 'meshguard.io/enforcement': 'enforce', 'istio.io/dataplane-mode': 'ambient' });
  await createNamespace(cp, NS.noop, { 'bench.meshguard.io/noop': 'true', 'istio.io/dataplane-mode': 'ambient' });
  await createNamespace(cp, NS.noopPatch, { 'bench.meshguard.io/noop-patch': 'true', 'istio.io/dataplane-mode': 'ambient' });
  await createNamespace(cp, NS.noopPatchH2, { 'bench.meshguard.io/noop-patch-h2': 'true', 'istio.io/dataplane-mode': 'ambient' });
  await createNamespace(cp, NS.none, { 'istio.io/dataplane-mode': 'ambient' });
});

afterAll(async () => {
  await removeWebhooks(cp, noopConfig).catch(() => undefined);
  for (const p of noops) await p.stop();
  await env?.close();
});


const failures: string[] = [];
async function create(agent: Agent, config: Config, name: string) {
  const res = await timedPodCreate(cp, agent, NS[config], name);
  const decision = (res.body as { metadata?: { annotations?: Record<string, string> } }).metadata?.annotations?.[DECISION];
  if (res.status !== 201) failures.push(`${config} ${name}: HTTP ${res.status}`);
  else if (PATCHED.includes(config) !== (decision === 'ambient/namespace-default')) failures.push(`${config} ${name}: decision ${decision}`);
  return res.ms;
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;
function percentile(samples: number[], q: number) {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}
const median = (xs: number[]) => percentile(xs, 0.5);
const spread = (xs: number[]) => ({ median: round3(median(xs)), min: round3(Math.min(...xs)), max: round3(Math.max(...xs)) });

function rssMb(pid: number) {
  const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Math.round(Number(kb) / 1024);
}

it('Pod CREATE: meshguard vs a no-op webhook vs none', async () => {
  const one = new Agent({ keepAlive: true, maxSockets: 1, ca: readFileSync(cp.caFile, 'utf8') });
  const many = new Agent({ keepAlive: true, maxSockets: CONCURRENCY, ca: readFileSync(cp.caFile, 'utf8') });
  for (let i = 0; i < WARMUP; i++) for (const c of CONFIGS) await create(one, c, `warm-${i}`);

  const callsBefore = await env.meshguard.metric('meshguard_admission_requests_total');
  // Per round and config: p50 and p99 of SEQUENTIAL creates. The order rotates every round, so drift
  // (GC, other load on the machine) falls on every config alike.
  const rounds = Object.fromEntries(CONFIGS.map((c) => [c, { p50: [] as number[], p99: [] as number[] }])) as Record<Config, { p50: number[]; p99: number[] }>;
  // kube-apiserver's admission metrics are read between stretches (outside the timing), so each
  // config's totals hold its own creates only.
  const steps = Object.fromEntries(CONFIGS.map((c) => [c, new Map()])) as Record<Config, Totals>;
  let totals = await scrape(cp);
  for (let r = 0; r < ROUNDS; r++) {
    for (let k = 0; k < CONFIGS.length; k++) {
      const config = CONFIGS[(r + k) % CONFIGS.length];
      const ms: number[] = [];
      for (let i = 0; i < SEQUENTIAL; i++) ms.push(await create(one, config, `seq-r${r}-${i}`));
      rounds[config].p50.push(percentile(ms, 0.5));
      rounds[config].p99.push(percentile(ms, 0.99));
      const next = await scrape(cp);
      accumulate(steps[config], totals, next);
      totals = next;
    }
  }
  const meshguardCalls = (await env.meshguard.metric('meshguard_admission_requests_total')) - callsBefore;

  const bursts = Object.fromEntries(CONFIGS.map((c) => [c, [] as number[]])) as Record<Config, number[]>;
  for (let b = 0; b < BURSTS; b++) {
    for (let k = 0; k < CONFIGS.length; k++) {
      const config = CONFIGS[(b + k) % CONFIGS.length];
      let next = 0;
      const started = performance.now();
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (next < BURST) await create(many, config, `burst-b${b}-${next++}`);
        }),
      );
      bursts[config].push(BURST / ((performance.now() - started) / 1000));
    }
  }
  const meshguardRssMb = rssMb(env.meshguard.proc.pid);
  one.destroy();
  many.destroy();

  expect(failures.slice(0, 10)).toEqual([]);
  for (const p of noops) expect(p.running(), p.name).toBe(true);

  // Added latency per round: config p50 minus the no-webhook p50 of the same round.
  const added = (config: Config) => rounds[config].p50.map((p, r) => p - rounds.none.p50[r]);
  const addedMeshguard = spread(added('meshguard'));
  const addedNoop = spread(added('noop'));
  const addedNoopPatch = spread(added('noopPatch'));
  const addedNoopPatchH2 = spread(added('noopPatchH2'));
  const burstRatio = bursts.meshguard.map((x, b) => x / bursts.noop[b]);
  const result = {
    what: 'Pod CREATE on a real kube-apiserver: a namespace meshguard handles (the chart webhooks), one a no-op node:https webhook handles (also patching, and patching over HTTP/2), one with no webhook',
    command: 'npm run bench:e2e',
    measuredAt: new Date().toISOString(),
    kubeApiserver: cp.kubernetesVersion,
    machine: { cpus: cpus().length, memoryGiB: Math.round(totalmem() / 2 ** 30), loadavg: loadavg().map((x) => Math.round(x * 100) / 100), node: process.version },
    sequential: { rounds: ROUNDS, createsPerRound: SEQUENTIAL, unit: 'ms, median over rounds of each round p50/p99 (min..max across rounds)' },
    latency: Object.fromEntries(CONFIGS.map((c) => [c, { p50: spread(rounds[c].p50), p99: spread(rounds[c].p99) }])),
    addedP50: {
      meshguard: addedMeshguard,
      noop: addedNoop,
      noopPatch: addedNoopPatch,
      ratio: round3(addedMeshguard.median / addedNoop.median),
      target: '<= 1.2',
      ratioToNoopPatch: round3(addedMeshguard.median / addedNoopPatch.median),
      noopPatchH2: addedNoopPatchH2,
      h2ToH1: round3(addedNoopPatchH2.median / addedNoopPatch.median),
    },
    // Means over every sequential create of the config (outliers included, unlike the p50s above).
    apiserverSteps: { unit: 'ms per call, mean (sum / count of kube-apiserver metrics)', ...Object.fromEntries(CONFIGS.map((c) => [c, means(steps[c])])) },
    meshguardCallsPerPod: round3(meshguardCalls / (ROUNDS * SEQUENTIAL)),
    burst: {
      pods: BURST,
      concurrency: CONCURRENCY,
      bursts: BURSTS,
      podsPerSecond: Object.fromEntries(CONFIGS.map((c) => [c, spread(bursts[c])])),
      ratioToNoop: { ...spread(burstRatio), target: '>= 0.85' },
      ratioToNoopPatch: spread(bursts.meshguard.map((x, b) => x / bursts.noopPatch[b])),
      h2ToH1: spread(bursts.noopPatchH2.map((x, b) => x / bursts.noopPatch[b])),
    },
    meshguardRssAfterBurstMb: { value: meshguardRssMb, target: '<= 200' },
  };
  mkdirSync(dirname(RESULTS), { recursive: true });
  writeFileSync(RESULTS, `${JSON.stringify(result, null, 2)}\n`);
  console.log(JSON.stringify(result, null, 2));
});
