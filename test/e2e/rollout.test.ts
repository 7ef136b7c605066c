// A rolling update of meshguard under load, through a real kube-apiserver: the new process starts and
// becomes ready, the old one gets SIGTERM, and kube-apiserver keeps reaching the old one for a while,
// as it does in a cluster while the endpoint removal propagates (see loopback-service.ts for how that
// is modelled with `url` webhooks on loopback). Pods (mutating webhook, failurePolicy Ignore: a missed
// call shows as an unmutated pod) and Services (validating webhook, failurePolicy Fail: a missed call
// fails the create) are created in a loop throughout.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { clients, eventually, sleep } from './control-plane.js';
import { startLoopbackService, type LoopbackService } from './loopback-service.js';
import { createNamespace, DECISION, simplePod, startMeshguard, type Meshguard } from './meshguard-process.js';
import { installWebhooks, removeWebhooks, type Rendered } from './webhooks.js';

const cp = inject('controlPlane');
const { core } = clients(cp);
const NS = 'rollout';
/** How long after SIGTERM kube-apiserver still reaches the old process (the endpoint removal's lag). */
const ENDPOINT_LAG_MS = 2_000;

let service: LoopbackService;
let configs: Rendered[] = [];
let current: Meshguard;
const started: Meshguard[] = [];

beforeAll(async () => {
  await createNamespace(cp, NS, { 'meshguard.io/enforcement': 'enforce', 'istio.io/dataplane-mode': 'ambient' });
  // The first process shuts down the old way (no delay): the control below.
  current = await startMeshguard(cp, { name: 'meshguard-a', shutdownDelay: '0' });
  started.push(current);
  service = await startLoopbackService(current.port);
  configs = await installWebhooks(cp, service.url, current.caPem);
  await eventually('the webhooks to call meshguard through the service', async () => {
    const pod = await core.createNamespacedPod({ namespace: NS, body: simplePod('probe'), dryRun: 'All' });
    return pod.metadata?.annotations?.[DECISION] === 'ambient/namespace-default';
  });
});
afterAll(async () => {
  await removeWebhooks(cp, configs);
  for (const m of started) if (m.proc.running()) await m.stop();
  await service?.close();
});

let seq = 0;

/**
 * Rolls meshguard from `current` to a new process (shutdown delay `nextDelay`) under load, as a
 * Deployment's rolling update does: the new pod ready first, then SIGTERM to the old one while its
 * endpoint is removed. Returns every failed or unmutated create, and how many requests the old
 * process answered after its SIGTERM.
 */
async function roll(name: string, nextDelay: string) {
  const problems: string[] = [];
  let created = 0;
  let running = true;
  const createOne = async (kind: 'pod' | 'service') => {
    const name = `roll-${kind}-${++seq}`;
    try {
      if (kind === 'pod') {
        const pod = await core.createNamespacedPod({ namespace: NS, body: simplePod(name) });
        if (pod.metadata?.annotations?.[DECISION] !== 'ambient/namespace-default') problems.push(`${name}: not mutated`);
      } else {
        await core.createNamespacedService({ namespace: NS, body: { apiVersion: 'v1', kind: 'Service', metadata: { name }, spec: { ports: [{ port: 80 }] } } });
      }
      created++;
    } catch (err) {
      problems.push(`${name}: ${(err as Error).message.split('\n')[0]}`);
    }
  };
  // Bursts of 1 to 6 concurrent creates, half pods and half Services: kube-apiserver keeps several
  // connections alive and opens new ones during bursts.
  const load = (async () => {
    for (let burst = 1; running; burst = (burst % 6) + 1) {
      await Promise.all(Array.from({ length: burst }, (_, i) => createOne(i % 2 ? 'service' : 'pod')));
    }
  })();

  await sleep(1_000);
  const old = current;
  current = await startMeshguard(cp, { name, certDir: old.certDir, shutdownDelay: nextDelay });
  started.push(current);
  const answered = () => old.metric('meshguard_admission_requests_total').catch(() => undefined);
  const atSigterm = await answered();
  const moved = service.moveTo(current.port, ENDPOINT_LAG_MS);
  const stopped = old.stop();
  await moved;
  // Still serving (during its delay) or already gone (no delay): what it answered after SIGTERM.
  const atMove = await answered();
  await stopped;
  await sleep(1_000);
  running = false;
  await load;
  return { problems, created, servedAfterSigterm: atMove === undefined || atSigterm === undefined ? 0 : atMove - atSigterm };
}

describe('12. rolling update under load', () => {
  it('control: without a shutdown delay, creates fail or go unmutated while the endpoint is being removed', async () => {
    // Rolls meshguard-a (--shutdown-delay 0, the old behaviour) to meshguard-b (5s, rolled next).
    const { problems, created, servedAfterSigterm } = await roll('meshguard-b', '5s');
    process.stderr.write(`[e2e] roll with --shutdown-delay 0: ${problems.length} failed or unmutated of ${created + problems.length} creates, e.g. ${problems.slice(0, 2).join(' | ')}\n`);
    expect(created).toBeGreaterThan(20);
    expect(servedAfterSigterm).toBe(0);
    expect(problems.length).toBeGreaterThan(0);
  });

  it('with --shutdown-delay 5s (the chart default): no create fails and every pod is mutated', async () => {
    // meshguard-c is only stopped after its webhooks are removed: it needs no delay of its own.
    const { problems, created, servedAfterSigterm } = await roll('meshguard-c', '0');
    process.stderr.write(`[e2e] roll with --shutdown-delay 5s: ${problems.length} failed or unmutated of ${created + problems.length} creates; the old process answered ${servedAfterSigterm} after SIGTERM\n`);
    expect(problems).toEqual([]);
    expect(created).toBeGreaterThan(50);
    // The model did what it claims: kube-apiserver kept reaching the old process after its SIGTERM.
    expect(servedAfterSigterm).toBeGreaterThan(0);
  });
});
