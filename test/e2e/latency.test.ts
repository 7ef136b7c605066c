// The latency meshguard adds to a Pod CREATE on a real kube-apiserver: sequential creates in a
// namespace meshguard selects (the pod-mode mutation: one webhook call; the pods' validating entry
// skips a pod without the labels and annotations the pod checks read) against
// creates in a namespace it does not select (no webhook call). Numbers go to the git-ignored
// bench/results/e2e-latency-latest.json (so a test run leaves the tree clean; copy it to
// e2e-latency.json to record it); only sanity is asserted, never a threshold.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { cpus, loadavg } from 'node:os';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { createNamespace, DECISION, meshguardWithWebhooks, timedPodCreate } from './meshguard-process.js';

const cp = inject('controlPlane');
const RESULTS = fileURLToPath(new URL('../../bench/results/e2e-latency-latest.json', import.meta.url));
const N = 200;
const WARMUP = 20;
const NS = { selected: 'lat-selected', unselected: 'lat-unselected' } as const;

let env: Awaited<ReturnType<typeof meshguardWithWebhooks>>;
beforeAll(async () => {
  env = await meshguardWithWebhooks(cp);
  await createNamespace(cp, NS.selected, { 'meshguard.io/enforcement': 'enforce', 'istio.io/dataplane-mode': 'ambient' });
  await createNamespace(cp, NS.unselected, { 'istio.io/dataplane-mode': 'ambient' });
});
afterAll(async () => {
  await env?.close();
});

// One kept-alive connection, as a controller's client would use: the timing is the API server's
// (and its webhooks'), not TLS handshakes or client library overhead.
const agent = new Agent({ keepAlive: true, maxSockets: 1, ca: readFileSync(cp.caFile, 'utf8') });


function stats(samples: number[]) {
  const sorted = [...samples].sort((a, b) => a - b);
  // Nearest-rank percentile.
  const p = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
  const round = (x: number) => Math.round(x * 1000) / 1000;
  return {
    n: sorted.length,
    min: round(sorted[0]),
    p50: round(p(0.5)),
    p90: round(p(0.9)),
    p99: round(p(0.99)),
    max: round(sorted.at(-1)!),
    mean: round(sorted.reduce((a, b) => a + b, 0) / sorted.length),
  };
}

/** meshguard's own time per admission request (decode to response), from its histogram. */
function serverSide(before: string, after: string) {
  const read = (text: string, webhook: string, what: 'sum' | 'count') => {
    const m = new RegExp(`^meshguard_admission_duration_seconds_${what}\\{webhook="${webhook}"\\} (\\S+)$`, 'm').exec(text);
    return m ? Number(m[1]) : 0;
  };
  const out: Record<string, { requests: number; meanMs: number }> = {};
  for (const webhook of ['mutate', 'validate']) {
    const requests = read(after, webhook, 'count') - read(before, webhook, 'count');
    const seconds = read(after, webhook, 'sum') - read(before, webhook, 'sum');
    out[webhook] = { requests, meanMs: requests ? Math.round((seconds / requests) * 1e6) / 1e3 : 0 };
  }
  return out;
}

it('11. added latency of a Pod CREATE through meshguard', async () => {
  const samples = { selected: [] as number[], unselected: [] as number[] };
  const failures: string[] = [];
  const run = async (which: keyof typeof NS, i: number, record: boolean) => {
    const name = `${record ? 'pod' : 'warm'}-${i}`;
    const res = await timedPodCreate(cp, agent, NS[which], name);
    if (res.status !== 201) failures.push(`${which} ${name}: ${res.status} ${res.body?.message}`);
    const decision = res.body?.metadata?.annotations?.[DECISION];
    if (which === 'selected' && decision !== 'ambient/namespace-default') failures.push(`${which} ${name}: not patched`);
    if (which === 'unselected' && decision !== undefined) failures.push(`${which} ${name}: patched`);
    if (record) samples[which].push(res.ms);
  };

  for (let i = 0; i < WARMUP; i++) {
    await run('selected', i, false);
    await run('unselected', i, false);
  }
  const metricsBefore = await env.meshguard.metrics();
  // Interleaved, alternating which goes first, so drift (GC, other load on the machine) hits both alike.
  for (let i = 0; i < N; i++) {
    const order: Array<keyof typeof NS> = i % 2 ? ['selected', 'unselected'] : ['unselected', 'selected'];
    for (const which of order) await run(which, i, true);
  }
  const metricsAfter = await env.meshguard.metrics();
  agent.destroy();

  expect(failures).toEqual([]);
  expect(samples.selected).toHaveLength(N);
  expect(samples.unselected).toHaveLength(N);

  const selected = stats(samples.selected);
  const unselected = stats(samples.unselected);
  const result = {
    what: 'Pod CREATE latency on a real kube-apiserver, through meshguard (selected namespace: the mutating pod-mode webhook; an ordinary pod is not sent to the validating pods webhook) vs without (namespace not selected)',
    measuredAt: new Date().toISOString(),
    kubeApiserver: cp.kubernetesVersion,
    sequentialCreatesPerNamespace: N,
    warmupPerNamespace: WARMUP,
    unit: 'ms',
    withMeshguard: selected,
    withoutMeshguard: unselected,
    added: {
      p50: Math.round((selected.p50 - unselected.p50) * 1000) / 1000,
      p99: Math.round((selected.p99 - unselected.p99) * 1000) / 1000,
      mean: Math.round((selected.mean - unselected.mean) * 1000) / 1000,
    },
    meshguardServerSide: serverSide(metricsBefore, metricsAfter),
    machine: { cpus: cpus().length, loadavg1m: Math.round(loadavg()[0] * 100) / 100, node: process.version },
  };
  mkdirSync(dirname(RESULTS), { recursive: true });
  writeFileSync(RESULTS, `${JSON.stringify(result, null, 2)}\n`);
  console.log(
    [
      `Pod CREATE latency, ${N} sequential creates each (ms):`,
      `  with meshguard     p50 ${selected.p50}  p99 ${selected.p99}  mean ${selected.mean}`,
      `  without meshguard  p50 ${unselected.p50}  p99 ${unselected.p99}  mean ${unselected.mean}`,
      `  added              p50 ${result.added.p50}  p99 ${result.added.p99}  mean ${result.added.mean}`,
      `  meshguard itself   mutate ${result.meshguardServerSide.mutate.meanMs} ms/request, validate ${result.meshguardServerSide.validate.meanMs} ms/request`,
      `  written to ${RESULTS}`,
    ].join('\n'),
  );
  // Every selected create made one webhook call, the mutating one (pod-mode may be reinvoked: never
  // here); an ordinary pod carries nothing the validating pod checks read.
  expect(result.meshguardServerSide.mutate.requests).toBe(N);
  expect(result.meshguardServerSide.validate.requests).toBe(0);
});
