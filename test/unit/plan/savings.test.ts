import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../../src/kube.js';
import { loadPolicyFile } from '../../../src/policy/load.js';
import { Inventory } from '../../../src/plan/inventory.js';
import { parseQuantity } from '../../../src/plan/quantity.js';
import { DEFAULT_PRICES, HOURS_PER_MONTH, savingsOf, sidecarRequests, ztunnelOf } from '../../../src/plan/savings.js';
import { planNamespaces } from '../../../src/plan/verdict.js';
import { input, istio, ns, pod, service } from './fixtures.js';

const policy = loadPolicyFile();
const Mi = 2 ** 20;

describe('parseQuantity (k8s.io/apimachinery resource.Quantity)', () => {
  it.each([
    ['100m', 0.1],
    ['2', 2],
    ['1.5', 1.5],
    ['128Mi', 128 * Mi],
    ['1Gi', 2 ** 30],
    ['500M', 5e8],
    ['1e3', 1000],
    ['.5', 0.5],
    [3, 3],
  ])('%s', (q, n) => expect(parseQuantity(q)).toBeCloseTo(n, 9));
  it.each(['', 'abc', '1Xi', '-1', '1 Gi', null, {}])('rejects %j', (q) => expect(parseQuantity(q)).toBeUndefined());
});

describe('sidecarRequests: container, else annotations, else Istio defaults', () => {
  it.each([
    ['container requests', pod('a', 'x', 0, { resources: { requests: { cpu: '250m', memory: '256Mi' } } }), 0.25, 256 * Mi, 'container'],
    ['annotations', pod('a', 'x', 0, { annotations: { 'sidecar.istio.io/proxyCPU': '50m', 'sidecar.istio.io/proxyMemory': '64Mi' } }), 0.05, 64 * Mi, 'annotation'],
    ['defaults', pod('a', 'x', 0), 0.1, 128 * Mi, 'istio-default'],
    ['container cpu, default memory', pod('a', 'x', 0, { resources: { requests: { cpu: '1' } } }), 1, 128 * Mi, 'container'],
  ] as const)('%s', (_n, p, cpu, memory, source) => {
    expect(sidecarRequests(p)).toEqual({ cpu, memory, source });
  });
});

describe('savingsOf', () => {
  const ztunnelDs = (nodes: number): KubeObject => ({
    apiVersion: 'apps/v1',
    kind: 'DaemonSet',
    metadata: { name: 'ztunnel', namespace: 'istio-system' },
    spec: { template: { spec: { containers: [{ name: 'istio-proxy', resources: { requests: { cpu: '200m', memory: '512Mi' } } }] } } },
    status: { desiredNumberScheduled: nodes },
  });
  const objects = (extra: KubeObject[]) => [
    ns('ready'),
    ...[0, 1, 2, 3].map((i) => pod('ready', 'web', i, { resources: { requests: { cpu: '100m', memory: '128Mi' } }, node: `n${i % 2}` })),
    service('ready', 'web'),
    ns('l7'),
    pod('l7', 'api', 0, { resources: { requests: { cpu: '500m', memory: '1Gi' } } }),
    service('l7', 'api'),
    istio('AuthorizationPolicy', 'l7', 'get', { selector: { matchLabels: { app: 'api' } }, rules: [{ to: [{ operation: { methods: ['GET'] } }] }] }),
    ns('stuck'),
    pod('stuck', 'lua', 0, { resources: { requests: { cpu: '1', memory: '1Gi' } } }),
    istio('EnvoyFilter', 'stuck', 'lua', { configPatches: [] }),
    ...extra,
  ];

  it('sums requests now and after per namespace, adds planned waypoints, and ztunnel per node', () => {
    const inp = input(objects([ztunnelDs(3)]));
    const plans = planNamespaces(inp, policy);
    const inventory = new Inventory(inp.objects);
    const z = ztunnelOf(inventory, new Set());
    expect(z).toMatchObject({ perNode: { cpu: 0.2, memory: 512 * Mi }, nodes: 3, present: true });
    const s = savingsOf(plans, z, DEFAULT_PRICES);
    const by = Object.fromEntries(s.namespaces.map((n) => [n.namespace, n]));
    expect(by.ready.saved.cpu).toBeCloseTo(0.4);
    expect(by.ready.sources).toEqual({ container: 4, annotation: 0, 'istio-default': 0 });
    expect(by.l7.saved.cpu).toBeCloseTo(0.4); // 500m sidecar out, 100m waypoint in
    expect(by.l7.saved.memory).toBe(2 ** 30 - 128 * Mi);
    expect(by.stuck.saved).toEqual({ cpu: 0, memory: 0 });
    // ztunnel already runs: in both columns, so the saving is the namespaces' sum.
    expect(s.now.cpu).toBeCloseTo(0.4 + 0.5 + 1 + 0.6);
    expect(s.saved.cpu).toBeCloseTo(0.8);
    expect(s.savedMonthly).toBeCloseTo((0.8 * DEFAULT_PRICES.cpuPerCoreHour + ((4 * 128 * Mi + 2 ** 30 - 128 * Mi) / 2 ** 30) * DEFAULT_PRICES.memoryPerGiBHour) * HOURS_PER_MONTH, 6);
  });

  it('without a ztunnel DaemonSet, counts Istio defaults on the nodes the pods use, as a new cost', () => {
    const inp = input(objects([]));
    const plans = planNamespaces(inp, policy);
    const z = ztunnelOf(new Inventory(inp.objects), new Set(['n0', 'n1']));
    expect(z).toMatchObject({ perNode: { cpu: 0.2, memory: 512 * Mi }, nodes: 2, present: false });
    const s = savingsOf(plans, z, DEFAULT_PRICES);
    expect(s.saved.cpu).toBeCloseTo(0.8 - 0.4);
  });
});
