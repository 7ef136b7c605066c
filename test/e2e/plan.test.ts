// `meshguard plan --kubeconfig` against the real kube-apiserver: a cluster seeded with a namespace
// that is ready, one that needs a waypoint and one that stays on sidecars; the generated manifests
// pass a server-side dry-run, are applied for real, and the re-plan finds the namespace ready, then,
// once its pods are restarted without sidecars and the originals deleted, already ambient.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { V1Pod } from '@kubernetes/client-node';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { RESOURCES } from '../../src/cluster/resources.js';
import type { KubeObject } from '../../src/kube.js';
import { parseApiVersion } from '../../src/kube.js';
import { PLAN_RESOURCES } from '../../src/plan/inventory.js';
import type { PlanReport } from '../../src/plan/report.js';
import { clients } from './control-plane.js';
import { CLI, createNamespace } from './meshguard-process.js';

const cp = inject('controlPlane');
const api = clients(cp);
const { core, custom } = api;
const NS = { ready: 'plan-ready', waypoint: 'plan-waypoint', sidecar: 'plan-sidecar' } as const;
const run = promisify(execFile);

async function plan(): Promise<PlanReport> {
  const args = [CLI, 'plan', '--kubeconfig', cp.kubeconfig, '--format', 'json', ...Object.values(NS).flatMap((n) => ['--namespace', n])];
  const { stdout } = await run(process.execPath, args, { maxBuffer: 64 * 1024 * 1024 });
  return JSON.parse(stdout) as PlanReport;
}

/** A pod of a Deployment, as the injector leaves it (sidecar) or as it comes back after a restart. */
function pod(app: string, i: number, sidecar: boolean): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: `${app}-5f6d7-${i}`,
      labels: { app, 'pod-template-hash': '5f6d7' },
      ...(sidecar && { annotations: { 'sidecar.istio.io/status': '{"containers":["istio-proxy"]}' } }),
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `${app}-5f6d7`, uid: '00000000-0000-0000-0000-000000000001', controller: true }],
    },
    spec: {
      containers: [
        { name: app, image: `example/${app}:1` },
        ...(sidecar ? [{ name: 'istio-proxy', image: 'istio/proxyv2:1.31.0', resources: { requests: { cpu: '100m', memory: '128Mi' } } }] : []),
      ],
    },
  };
}

const SEED: Record<string, Array<{ app: string; pods: number }>> = {
  [NS.ready]: [{ app: 'products', pods: 2 }],
  [NS.waypoint]: [{ app: 'orders', pods: 2 }, { app: 'payments', pods: 1 }],
  [NS.sidecar]: [{ app: 'billing', pods: 1 }],
};

async function createIstio(namespace: string, plural: string, body: KubeObject) {
  const { group, version } = parseApiVersion(body.apiVersion);
  await custom.createNamespacedCustomObject({ group, version, plural, namespace, body });
}

/** The REST path of an object the plan writes. */
function pathOf(obj: KubeObject): string {
  const { group, version } = parseApiVersion(obj.apiVersion);
  const r = [...RESOURCES, ...PLAN_RESOURCES].find((x) => x.kind === obj.kind && x.group === group)!;
  const base = group ? `/apis/${group}/${version}` : '/api/v1';
  return r.namespaced ? `${base}/namespaces/${obj.metadata!.namespace}/${r.plural}/${obj.metadata!.name}` : `${base}/${r.plural}/${obj.metadata!.name}`;
}

/** Applies the manifests of one namespace's plan in step order, as `kubectl apply --server-side` and `kubectl label` would. */
async function applyPlan(ns: PlanReport['namespaces'][number], dryRun: boolean) {
  const query = `?fieldManager=meshguard-plan&force=true${dryRun ? '&dryRun=All' : ''}`;
  for (const step of ns.steps) {
    for (const obj of step.objects) {
      const res = await api.raw('PATCH', pathOf(obj) + query, obj, 'application/apply-patch+yaml');
      expect(res.status, `${step.title}: ${obj.kind} ${obj.metadata!.name}: ${res.text}`).toBeLessThan(300);
    }
    for (const command of step.commands) {
      const label = command.match(/^kubectl label namespace (\S+) (.*) --overwrite$/);
      if (!label) continue;
      const labels: Record<string, string | null> = {};
      for (const change of label[2].split(' ')) {
        if (change.endsWith('-')) labels[change.slice(0, -1)] = null;
        else labels[change.slice(0, change.indexOf('='))] = change.slice(change.indexOf('=') + 1);
      }
      const res = await api.raw('PATCH', `/api/v1/namespaces/${label[1]}${dryRun ? '?dryRun=All' : ''}`, { metadata: { labels } }, 'application/merge-patch+json');
      expect(res.status, res.text).toBe(200);
    }
  }
}

beforeAll(async () => {
  for (const ns of Object.values(NS)) {
    await createNamespace(cp, ns, { 'istio-injection': 'enabled' });
    for (const { app, pods } of SEED[ns]) {
      await core.createNamespacedService({ namespace: ns, body: { apiVersion: 'v1', kind: 'Service', metadata: { name: app }, spec: { selector: { app }, ports: [{ port: 8080 }] } } });
      for (let i = 0; i < pods; i++) await core.createNamespacedPod({ namespace: ns, body: pod(app, i, true) });
    }
  }
  await createIstio(NS.ready, 'authorizationpolicies', {
    apiVersion: 'security.istio.io/v1',
    kind: 'AuthorizationPolicy',
    metadata: { name: 'products-from-shop' },
    spec: { selector: { matchLabels: { app: 'products' } }, rules: [{ from: [{ source: { namespaces: ['shop'] } }] }] },
  });
  await createIstio(NS.waypoint, 'authorizationpolicies', {
    apiVersion: 'security.istio.io/v1',
    kind: 'AuthorizationPolicy',
    metadata: { name: 'orders-get' },
    spec: { selector: { matchLabels: { app: 'orders' } }, rules: [{ from: [{ source: { principals: ['cluster.local/ns/shop/sa/web'] } }], to: [{ operation: { methods: ['GET'] } }] }] },
  });
  await createIstio(NS.waypoint, 'authorizationpolicies', {
    apiVersion: 'security.istio.io/v1',
    kind: 'AuthorizationPolicy',
    metadata: { name: 'payments-no-refunds' },
    spec: { selector: { matchLabels: { app: 'payments' } }, action: 'DENY', rules: [{ to: [{ operation: { paths: ['/refunds*'] } }] }] },
  });
  await createIstio(NS.sidecar, 'envoyfilters', {
    apiVersion: 'networking.istio.io/v1alpha3',
    kind: 'EnvoyFilter',
    metadata: { name: 'billing-lua' },
    spec: { workloadSelector: { labels: { app: 'billing' } }, configPatches: [] },
  });
});

describe('meshguard plan --kubeconfig', () => {
  let first: PlanReport;

  it('gives each seeded namespace its verdict, reading every kind', async () => {
    first = await plan();
    expect(first.readErrors).toEqual([]);
    expect(Object.fromEntries(first.namespaces.map((n) => [n.namespace, n.verdict]))).toEqual({
      [NS.ready]: 'ready',
      [NS.waypoint]: 'needs-waypoint',
      [NS.sidecar]: 'stays-sidecar',
    });
    const sidecar = first.namespaces.find((n) => n.namespace === NS.sidecar)!;
    expect(sidecar.reasons.map((r) => `${r.id} ${r.object.name}`)).toEqual(['envoyfilter-workload billing-lua']);
    expect(first.summary.pods.now.sidecar).toBe(6);
  });

  it('the manifests pass a server-side dry-run, then apply for real, and the re-plan finds the namespace ready', async () => {
    const ns = first.namespaces.find((n) => n.namespace === NS.waypoint)!;
    expect(ns.manifests.map((m) => `${m.kind}/${m.metadata!.name}`)).toEqual([
      'Gateway/waypoint',
      'AuthorizationPolicy/orders-get-waypoint',
      'AuthorizationPolicy/payments-no-refunds-waypoint',
      'AuthorizationPolicy/orders-get-via-waypoint',
      'Namespace/plan-waypoint',
      'AuthorizationPolicy/payments-no-refunds-via-waypoint',
    ]);
    await applyPlan(ns, true);
    // A dry-run leaves nothing behind.
    expect((await api.raw('GET', `/apis/gateway.networking.k8s.io/v1/namespaces/${NS.waypoint}/gateways/waypoint`)).status).toBe(404);
    await applyPlan(ns, false);
    const labels = (await core.readNamespace({ name: NS.waypoint })).metadata!.labels!;
    expect(labels).toMatchObject({ 'istio.io/dataplane-mode': 'ambient', 'istio.io/use-waypoint': 'waypoint' });
    expect(labels['istio-injection']).toBeUndefined();

    const second = await plan();
    const again = second.namespaces.find((n) => n.namespace === NS.waypoint)!;
    expect(again.verdict).toBe('ready');
    expect(again.manifests).toEqual([]);
    expect(again.steps.map((s) => s.title)).toEqual(['Restart the workloads', 'Delete the original policies']);

    // The restart (pods come back without a sidecar) and the deletion of the originals.
    for (const { app, pods } of SEED[NS.waypoint])
      for (let i = 0; i < pods; i++) {
        await core.deleteNamespacedPod({ namespace: NS.waypoint, name: `${app}-5f6d7-${i}`, gracePeriodSeconds: 0 });
        await core.createNamespacedPod({ namespace: NS.waypoint, body: pod(app, i + 10, false) });
      }
    for (const command of again.steps[1].commands) {
      const [, kind, name, namespace] = command.match(/^kubectl delete (\S+) (\S+) -n (\S+)$/)!;
      expect(kind).toBe('authorizationpolicy');
      await custom.deleteNamespacedCustomObject({ group: 'security.istio.io', version: 'v1', plural: 'authorizationpolicies', namespace, name });
    }
    const third = await plan();
    expect(Object.fromEntries(third.namespaces.map((n) => [n.namespace, n.verdict]))).toEqual({
      [NS.ready]: 'ready',
      [NS.waypoint]: 'already-ambient',
      [NS.sidecar]: 'stays-sidecar',
    });
  });
});
