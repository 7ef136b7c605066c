import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../../src/kube.js';
import { loadPolicyFile } from '../../../src/policy/load.js';
import { REASON_IDS, type ReasonId, type Verdict } from '../../../src/plan/types.js';
import { planNamespaces } from '../../../src/plan/verdict.js';
import { input, istio, ns, pod, service, waypoint } from './fixtures.js';

const policy = loadPolicyFile();

/** shop: Deployments web (2 pods) and api (1 pod), each with its own Service, all with sidecars. */
const shop = (extra: KubeObject[] = [], opts: { nsLabels?: Record<string, string>; pods?: KubeObject[] } = {}) => [
  ns('shop', opts.nsLabels),
  ...(opts.pods ?? [pod('shop', 'web', 0), pod('shop', 'web', 1), pod('shop', 'api', 0)]),
  service('shop', 'web'),
  service('shop', 'api'),
  ...extra,
];

const ap = (name: string, spec: Record<string, unknown>, namespace = 'shop') => istio('AuthorizationPolicy', namespace, name, spec);
const onApi = { selector: { matchLabels: { app: 'api' } } };

interface Case {
  name: string;
  objects: KubeObject[];
  verdict: Verdict;
  reasons: ReasonId[];
}

const cases: Case[] = [
  { name: 'no pods, no Istio labels', objects: [ns('idle', {})], verdict: 'not-in-mesh', reasons: [] },
  {
    name: 'plain pods in an unlabelled namespace',
    objects: [ns('shop', {}), pod('shop', 'web', 0, { sidecar: false })],
    verdict: 'not-in-mesh',
    reasons: [],
  },
  {
    name: 'ambient namespace without sidecars',
    objects: [ns('shop', { 'istio.io/dataplane-mode': 'ambient' }), pod('shop', 'web', 0, { sidecar: false })],
    verdict: 'already-ambient',
    reasons: [],
  },
  { name: 'sidecars and only L4 policy', objects: shop([ap('ports', { ...onApi, rules: [{ to: [{ operation: { ports: ['8080'] } }] }] })]), verdict: 'ready', reasons: [] },
  { name: 'injection label, no pods yet', objects: [ns('shop')], verdict: 'ready', reasons: [] },
  {
    name: 'selector policy with L7 methods',
    objects: shop([ap('get-only', { ...onApi, rules: [{ to: [{ operation: { methods: ['GET'] } }] }] })]),
    verdict: 'needs-waypoint',
    reasons: ['authz-l7-selector'],
  },
  {
    name: 'CUSTOM action',
    objects: shop([ap('ext', { ...onApi, action: 'CUSTOM', provider: { name: 'opa' }, rules: [{}] })]),
    verdict: 'needs-waypoint',
    reasons: ['authz-action-unsupported'],
  },
  {
    name: 'L7 policy beside an L4 one that checks the source',
    objects: shop([
      ap('get-only', { ...onApi, rules: [{ to: [{ operation: { methods: ['GET'] } }] }] }),
      ap('from-web', { selector: { matchLabels: { app: 'web' } }, rules: [{ from: [{ source: { principals: ['cluster.local/ns/shop/sa/api'] } }] }] }),
    ]),
    verdict: 'needs-waypoint',
    reasons: ['authz-l7-selector', 'authz-moves-with-waypoint'],
  },
  {
    name: 'trustDomains, which ztunnel drops without a word',
    objects: shop([ap('td', { ...onApi, rules: [{ from: [{ source: { trustDomains: ['partner.example'] } }] }] })]),
    verdict: 'needs-waypoint',
    reasons: ['authz-ztunnel-drops-field'],
  },
  {
    name: 'RequestAuthentication with a selector',
    objects: shop([istio('RequestAuthentication', 'shop', 'jwt', { ...onApi, jwtRules: [{ issuer: 'https://issuer' }] })]),
    verdict: 'needs-waypoint',
    reasons: ['request-authentication-selector'],
  },
  {
    name: 'Telemetry with a selector',
    objects: shop([istio('Telemetry', 'shop', 'logs', { ...onApi, accessLogging: [{ providers: [{ name: 'envoy' }] }] })]),
    verdict: 'needs-waypoint',
    reasons: ['telemetry-selector'],
  },
  {
    name: 'namespace-wide Telemetry already reaches the waypoint',
    objects: shop([istio('Telemetry', 'shop', 'logs', { accessLogging: [{ providers: [{ name: 'envoy' }] }] })]),
    verdict: 'ready',
    reasons: [],
  },
  {
    name: 'WasmPlugin with a selector',
    objects: shop([istio('WasmPlugin', 'shop', 'filter', { ...onApi, url: 'oci://example/filter:1' })]),
    verdict: 'needs-waypoint',
    reasons: ['wasmplugin-selector'],
  },
  {
    name: 'VirtualService for mesh traffic',
    objects: shop([istio('VirtualService', 'shop', 'api', { hosts: ['api'], http: [{ route: [{ destination: { host: 'api' } }], timeout: '2s' }] })]),
    verdict: 'needs-waypoint',
    reasons: ['virtualservice-l7'],
  },
  {
    name: 'VirtualService only for an ingress gateway',
    objects: shop([istio('VirtualService', 'shop', 'api', { hosts: ['api.example.com'], gateways: ['istio-system/ingress'], http: [{ route: [{ destination: { host: 'api' } }] }] })]),
    verdict: 'ready',
    reasons: [],
  },
  {
    name: 'DestinationRule with a traffic policy',
    objects: shop([istio('DestinationRule', 'shop', 'api', { host: 'api', trafficPolicy: { loadBalancer: { simple: 'LEAST_REQUEST' } } })]),
    verdict: 'needs-waypoint',
    reasons: ['destinationrule-l7'],
  },
  {
    name: 'EnvoyFilter on the workloads',
    objects: shop([istio('EnvoyFilter', 'shop', 'lua', { workloadSelector: { labels: { app: 'api' } }, configPatches: [] })]),
    verdict: 'stays-sidecar',
    reasons: ['envoyfilter-workload'],
  },
  {
    name: 'Sidecar with REGISTRY_ONLY egress',
    objects: shop([istio('Sidecar', 'shop', 'default', { outboundTrafficPolicy: { mode: 'REGISTRY_ONLY' } })]),
    verdict: 'stays-sidecar',
    reasons: ['sidecar-resource-egress-policy'],
  },
  {
    name: 'Sidecar that only scopes egress hosts',
    objects: shop([istio('Sidecar', 'shop', 'default', { egress: [{ hosts: ['./*'] }] })]),
    verdict: 'ready',
    reasons: ['sidecar-resource-scope'],
  },
  {
    name: 'PeerAuthentication DISABLE',
    objects: shop([istio('PeerAuthentication', 'shop', 'plain', { ...onApi, mtls: { mode: 'DISABLE' } })]),
    verdict: 'ready',
    reasons: ['peerauthentication-disable'],
  },
  {
    name: 'L7 policy in the root namespace selecting these pods',
    objects: shop([ap('mesh-get', { ...onApi, rules: [{ to: [{ operation: { methods: ['GET'] } }] }] }, 'istio-system')]),
    verdict: 'stays-sidecar',
    reasons: ['mesh-wide-l7-policy'],
  },
  {
    name: 'L7 policy whose pods have no Service of their own',
    objects: [
      ...shop([ap('get-only', { selector: { matchLabels: { tier: 'back' } }, rules: [{ to: [{ operation: { methods: ['GET'] } }] }] })], {
        pods: [pod('shop', 'web', 0), pod('shop', 'api', 0, { labels: { tier: 'back' } }), pod('shop', 'batch', 0, { labels: { tier: 'back' } })],
      }),
    ],
    verdict: 'stays-sidecar',
    reasons: ['rewrite-not-exact', 'authz-l7-selector'],
  },
  {
    name: 'one workload pinned to its sidecar by annotation',
    objects: shop([], {
      pods: [pod('shop', 'web', 0), pod('shop', 'api', 0, { annotations: { 'sidecar.istio.io/userVolume': '[]' } })],
    }),
    verdict: 'ready',
    reasons: ['pod-stays-sidecar'],
  },
  {
    name: 'every workload pinned to its sidecar',
    objects: shop([], { pods: [pod('shop', 'api', 0, { labels: { 'sidecar.istio.io/inject': 'true' } })] }),
    verdict: 'stays-sidecar',
    reasons: ['pod-stays-sidecar'],
  },
];

describe('planNamespaces: verdicts and reasons', () => {
  it.each(cases)('$name -> $verdict', ({ objects, verdict, reasons }) => {
    const plans = planNamespaces(input(objects), policy);
    const target = plans.find((p) => p.namespace === (objects[0].metadata!.name as string))!;
    expect(target.verdict).toBe(verdict);
    expect(target.reasons.map((r) => r.id)).toEqual(reasons);
    for (const r of target.reasons) expect(r.message.length).toBeGreaterThan(20);
  });

  it('has a case for every reason id', () => {
    const covered = new Set(cases.flatMap((c) => c.reasons));
    expect(REASON_IDS.filter((id) => !covered.has(id))).toEqual([]);
  });

  it('counts pods now and after, and lists the workloads to restart by owner', () => {
    const [plan] = planNamespaces(input(shop([ap('get-only', { ...onApi, rules: [{ to: [{ operation: { paths: ['/x'] } }] }] })])), policy);
    expect(plan.now).toEqual({ sidecar: 3, ambient: 0, none: 0 });
    expect(plan.after).toEqual({ sidecar: 0, ambient: 3, none: 0 });
    expect(plan.moving).toEqual([
      { kind: 'Deployment', name: 'api', pods: 1 },
      { kind: 'Deployment', name: 'web', pods: 2 },
    ]);
    expect(plan.waypoint).toEqual({ name: 'waypoint', exists: false });
    expect(plan.rewrites.map((r) => [r.name, r.targets])).toEqual([['get-only', [{ group: '', kind: 'Service', name: 'api' }]]]);
    expect(plan.labelsAfter).toEqual({ 'istio.io/dataplane-mode': 'ambient', 'istio.io/use-waypoint': 'waypoint' });
  });

  it('targets the waypoint itself when the selector covers every workload, and reuses an existing waypoint', () => {
    const objects = shop([waypoint('shop', 'edge'), ap('all', { rules: [{ to: [{ operation: { methods: ['GET'] } }] }] })]);
    const [plan] = planNamespaces(input(objects), policy);
    expect(plan.waypoint).toEqual({ name: 'edge', exists: true });
    expect(plan.rewrites[0].targets).toEqual([{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'edge' }]);
  });

  it('ignores policies that already use targetRefs and pods that are not in the mesh', () => {
    const objects = shop([ap('on-waypoint', { targetRefs: [{ kind: 'Service', group: '', name: 'api' }], rules: [{ to: [{ operation: { methods: ['GET'] } }] }] })]);
    expect(planNamespaces(input(objects), policy)[0].verdict).toBe('ready');
  });

  it('plans only the namespaces asked for', () => {
    const objects = [...shop(), ns('other'), pod('other', 'x', 0)];
    expect(planNamespaces(input(objects, ['other']), policy).map((p) => p.namespace)).toEqual(['other']);
  });
});
