// Pod mutation through a real kube-apiserver: meshguard's chart-rendered MutatingWebhookConfiguration,
// meshguard as a process on loopback, and (scenario 2) a stand-in for Istio's sidecar injector.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { V1Pod } from '@kubernetes/client-node';
import { apiCode, clients, eventually } from './control-plane.js';
import { INJECTOR_CONFIG, PROXY_CONTAINER, startInjectorStandIn, type InjectorStandIn } from './injector-stand-in.js';
import { createNamespace, DECISION, meshguardWithWebhooks, simplePod, webhooksInEffect } from './meshguard-process.js';
import { apply, removeWebhooks, webhookConfigurations } from './webhooks.js';

const cp = inject('controlPlane');
const { core } = clients(cp);

const NS = {
  ambient: 'mut-ambient',
  sidecar: 'mut-sidecar',
  audit: 'mut-audit',
  off: 'mut-off',
  // istio-injection=enabled but not opted in to meshguard: what Istio does on its own.
  unselected: 'mut-unselected-sidecar',
} as const;

let env: Awaited<ReturnType<typeof meshguardWithWebhooks>>;
beforeAll(async () => {
  env = await meshguardWithWebhooks(cp);
  await createNamespace(cp, NS.ambient, { 'meshguard.io/enforcement': 'enforce', 'istio.io/dataplane-mode': 'ambient' });
  await createNamespace(cp, NS.sidecar, { 'meshguard.io/enforcement': 'enforce', 'istio-injection': 'enabled' });
  await createNamespace(cp, NS.audit, { 'meshguard.io/enforcement': 'audit', 'istio.io/dataplane-mode': 'ambient' });
  await createNamespace(cp, NS.off, { 'meshguard.io/enforcement': 'off', 'istio.io/dataplane-mode': 'ambient' });
  await createNamespace(cp, NS.unselected, { 'istio-injection': 'enabled' });
});
afterAll(async () => {
  await env?.close();
});

let seq = 0;
const create = (namespace: string, pod: ReturnType<typeof simplePod>) => core.createNamespacedPod({ namespace, body: pod });
const fresh = (prefix: string) => `${prefix}-${++seq}`;
const labels = (pod: V1Pod) => pod.metadata?.labels ?? {};
const containers = (pod: V1Pod) => pod.spec?.containers.map((c) => c.name) ?? [];
const meshguardLabels = (pod: V1Pod) => ({
  mode: labels(pod)['istio.io/dataplane-mode'],
  inject: labels(pod)['sidecar.istio.io/inject'],
  decision: pod.metadata?.annotations?.[DECISION],
});

describe('1. pod modes', () => {
  it('a pod in an ambient namespace is labelled ambient and kept away from the injector', async () => {
    const pod = await create(NS.ambient, simplePod(fresh('web')));
    expect(meshguardLabels(pod)).toEqual({ mode: 'ambient', inject: 'false', decision: 'ambient/namespace-default' });
    // What was stored, not only what the create returned.
    const stored = await core.readNamespacedPod({ namespace: NS.ambient, name: pod.metadata!.name! });
    expect(meshguardLabels(stored)).toEqual(meshguardLabels(pod));
  });

  it("a Job's pod in a sidecar namespace becomes ambient", async () => {
    const pod = await create(NS.sidecar, simplePod(fresh('nightly'), { ownerKind: 'Job' }));
    expect(meshguardLabels(pod)).toEqual({ mode: 'ambient', inject: 'false', decision: 'ambient/no-sidecar-for-jobs' });
  });

  it('a plain pod in a sidecar namespace is put in sidecar mode', async () => {
    const pod = await create(NS.sidecar, simplePod(fresh('api')));
    expect(meshguardLabels(pod)).toEqual({ mode: 'none', inject: 'true', decision: 'sidecar/namespace-default' });
  });

  it('a hostNetwork pod gets mode none (neither ztunnel nor a sidecar can mesh it)', async () => {
    const pod = await create(NS.ambient, simplePod(fresh('node-agent'), { hostNetwork: true }));
    expect(meshguardLabels(pod)).toEqual({ mode: 'none', inject: 'false', decision: 'none/host-network' });
  });
});

describe("2. webhook order: meshguard runs before Istio's sidecar injector", () => {
  let injector: InjectorStandIn;
  beforeAll(async () => {
    injector = await startInjectorStandIn(cp, {
      cert: env.meshguard.caPem,
      key: readFileSync(join(env.meshguard.certDir, 'ca.key'), 'utf8'),
    });
    // The stand-in's configuration is in effect once a pod it selects gets the proxy.
    await eventually('the stand-in injector to be called', async () => {
      const pod = await core.createNamespacedPod({ namespace: NS.unselected, body: simplePod('probe'), dryRun: 'All' });
      return containers(pod).includes(PROXY_CONTAINER);
    });
  });
  afterAll(async () => {
    await injector?.close();
  });

  it('the configuration names sort as kube-apiserver runs them: meshguard first', async () => {
    const names = (await clients(cp).admission.listMutatingWebhookConfiguration()).items.map((c) => c.metadata!.name!);
    const meshguard = env.configs.find((c) => c.kind === 'MutatingWebhookConfiguration')!.metadata!.name!;
    expect(names).toContain(INJECTOR_CONFIG);
    expect(names).toContain(meshguard);
    expect([...names].sort().indexOf(meshguard)).toBeLessThan([...names].sort().indexOf(INJECTOR_CONFIG));
  });

  it('without meshguard (namespace not opted in) the injector injects even a Job pod', async () => {
    const pod = await create(NS.unselected, simplePod(fresh('nightly'), { ownerKind: 'Job' }));
    expect(containers(pod)).toContain(PROXY_CONTAINER);
    expect(pod.metadata?.annotations?.[DECISION]).toBeUndefined();
  });

  it('a pod meshguard puts in sidecar mode gets the proxy (namespace default)', async () => {
    const pod = await create(NS.sidecar, simplePod(fresh('api')));
    expect(meshguardLabels(pod).decision).toBe('sidecar/namespace-default');
    expect(containers(pod)).toEqual(['app', PROXY_CONTAINER]);
  });

  it('a pod meshguard puts in sidecar mode in an ambient namespace gets the proxy (object selector inject=true)', async () => {
    const pod = await create(NS.ambient, simplePod(fresh('legacy'), { annotations: { 'meshguard.io/mode': 'sidecar' } }));
    expect(meshguardLabels(pod)).toEqual({ mode: 'none', inject: 'true', decision: 'sidecar/pod-override' });
    expect(containers(pod)).toEqual(['app', PROXY_CONTAINER]);
  });

  it('ambient pods in an istio-injection=enabled namespace come out without the proxy', async () => {
    const overridden = await create(NS.sidecar, simplePod(fresh('batch'), { annotations: { 'meshguard.io/mode': 'ambient' } }));
    expect(meshguardLabels(overridden)).toEqual({ mode: 'ambient', inject: 'false', decision: 'ambient/pod-override' });
    expect(containers(overridden)).toEqual(['app']);

    const job = await create(NS.sidecar, simplePod(fresh('nightly'), { ownerKind: 'Job' }));
    expect(meshguardLabels(job).decision).toBe('ambient/no-sidecar-for-jobs');
    expect(containers(job)).toEqual(['app']);
  });

  it('and it is the order that makes it work: named to sort after the injector, meshguard is too late', async () => {
    const rendered = webhookConfigurations(cp.helm, env.meshguard.url, env.meshguard.caPem).find((c) => c.kind === 'MutatingWebhookConfiguration')!;
    const original = rendered.metadata!.name!;
    const late = { ...rendered, metadata: { ...rendered.metadata, name: `zz-${original}` } };
    await removeWebhooks(cp, [rendered]);
    await apply(cp, [late]);
    try {
      // The renamed copy is in effect once it labels pods again.
      const pod = await eventually('the renamed configuration to be called', async () => {
        const p = await create(NS.sidecar, simplePod(fresh('late'), { ownerKind: 'Job' }));
        return p.metadata?.annotations?.[DECISION] ? p : undefined;
      });
      // meshguard decided ambient and labelled the pod inject=false, but the injector (never
      // reinvoked) had already added its proxy: a sidecar pod labelled ambient.
      expect(meshguardLabels(pod)).toEqual({ mode: 'ambient', inject: 'false', decision: 'ambient/no-sidecar-for-jobs' });
      expect(containers(pod)).toContain(PROXY_CONTAINER);
    } finally {
      await removeWebhooks(cp, [late]);
      await apply(cp, [rendered]);
      await webhooksInEffect(cp);
    }
  });
});

describe('3. dry-run', () => {
  it('a dry-run create gets the same answer and leaves nothing behind', async () => {
    const name = fresh('dry');
    const pod = await core.createNamespacedPod({ namespace: NS.ambient, body: simplePod(name), dryRun: 'All' });
    expect(meshguardLabels(pod)).toEqual({ mode: 'ambient', inject: 'false', decision: 'ambient/namespace-default' });
    const read = await core.readNamespacedPod({ namespace: NS.ambient, name }).then(
      () => 'exists',
      (err) => apiCode(err),
    );
    expect(read).toBe(404);
  });
});

describe('4. enforcement audit and off', () => {
  // meshguard's own counters (immediate, unlike its asynchronously written audit log) tell whether
  // kube-apiserver called it and what it decided; these tests create pods one at a time.
  const mutateCalls = (result?: string) =>
    env.meshguard.metric('meshguard_admission_requests_total', { webhook: 'mutate', kind: 'Pod', operation: 'CREATE', ...(result && { result }) });
  const decisions = () => env.meshguard.metric('meshguard_pod_mode_decisions_total', { mode: 'ambient', rule: 'namespace-default' });

  it('audit: meshguard is called and decides, but does not patch', async () => {
    const [allowed, decided] = [await mutateCalls('allowed'), await decisions()];
    const pod = await create(NS.audit, simplePod(fresh('audited')));
    expect(meshguardLabels(pod)).toEqual({ mode: undefined, inject: undefined, decision: undefined });
    // Answered "allowed" without a patch (in an enforce namespace the result would be "patched"),
    // and the ambient decision was made and counted all the same.
    expect(await mutateCalls('allowed')).toBe(allowed + 1);
    expect(await decisions()).toBe(decided + 1);
  });

  it('off: the chart does not even send the pod to meshguard', async () => {
    const calls = await mutateCalls();
    const pod = await create(NS.off, simplePod(fresh('untouched')));
    expect(pod.metadata?.labels).toBeUndefined();
    expect(pod.metadata?.annotations).toBeUndefined();
    expect(await mutateCalls()).toBe(calls);
    // While a pod in a selected namespace is.
    await create(NS.ambient, simplePod(fresh('selected')));
    expect(await mutateCalls()).toBe(calls + 1);
  });
});
