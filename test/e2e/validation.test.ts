// Validation through a real kube-apiserver: denials as the client sees them, the same objects done
// right, warnings under warn (and for warning-severity rules), and waypoint-in-use on DELETE (of a waypoint
// and of its GatewayClass).
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { apiCode, clients, eventually, rejection } from './control-plane.js';
import { createNamespace, meshguardWithWebhooks, simplePod } from './meshguard-process.js';

const cp = inject('controlPlane');
const { core, custom, raw } = clients(cp);
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

const NS = { ambient: 'val-ambient', warn: 'val-warn', inUse: 'val-in-use' } as const;

const GW = { group: 'gateway.networking.k8s.io', version: 'v1', plural: 'gateways' };
const AP = { group: 'security.istio.io', version: 'v1', plural: 'authorizationpolicies' };
const VS = { group: 'networking.istio.io', version: 'v1', plural: 'virtualservices' };
const DR = { group: 'networking.istio.io', version: 'v1', plural: 'destinationrules' };
type Resource = typeof GW;

/** `admission webhook "<webhook>" denied the request: [<rule>] ...`, as kubectl prints it. */
const denied = (webhook: string, rule: string) =>
  new RegExp(`^admission webhook "${webhook.replace(/\./g, '\\.')}" denied the request: \\[${rule}\\] `);
const VALIDATE = 'validate.meshguard.io';

const createObject = (r: Resource, namespace: string, body: Record<string, unknown>, dryRun?: 'All') =>
  custom.createNamespacedCustomObject({ ...r, namespace, body: { apiVersion: `${r.group}/${r.version}`, ...body }, dryRun });

const waypoint = (name: string, listener: Record<string, unknown> = { name: 'mesh', port: 15008, protocol: 'HBONE' }) => ({
  kind: 'Gateway',
  metadata: { name, labels: { 'istio.io/waypoint-for': 'service' } },
  spec: { gatewayClassName: 'istio-waypoint', listeners: [listener] },
});

const service = (name: string, labels: Record<string, string> = {}) => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name, labels },
  spec: { selector: { app: name }, ports: [{ name: 'http', port: 9080 }] },
});

/** Waits until meshguard's Gateway cache holds `namespace/name`: a Service may then use it. */
async function waypointKnown(namespace: string, name: string) {
  await eventually(`meshguard to see waypoint ${namespace}/${name}`, async () => {
    await core.createNamespacedService({ namespace, body: service(`probe-${name}`, { 'istio.io/use-waypoint': name }), dryRun: 'All' });
    return true;
  });
}

let env: Awaited<ReturnType<typeof meshguardWithWebhooks>>;
beforeAll(async () => {
  env = await meshguardWithWebhooks(cp);
  await createNamespace(cp, NS.ambient, { 'meshguard.io/enforcement': 'enforce', 'istio.io/dataplane-mode': 'ambient' });
  await createNamespace(cp, NS.warn, { 'meshguard.io/enforcement': 'warn', 'istio.io/dataplane-mode': 'ambient' });
  await createNamespace(cp, NS.inUse, { 'meshguard.io/enforcement': 'enforce', 'istio.io/dataplane-mode': 'ambient' });
  await createObject(GW, NS.ambient, waypoint('waypoint'));
  await core.createNamespacedService({ namespace: NS.ambient, body: service('reviews') });
  await waypointKnown(NS.ambient, 'waypoint');
});
afterAll(async () => {
  await env?.close();
});

describe('5. denials reach the client; the same objects done right are admitted', () => {
  it('authz: an L7 AuthorizationPolicy bound by selector in an ambient namespace (authz-l7-needs-waypoint)', async () => {
    const rules = [{ to: [{ operation: { methods: ['GET'], paths: ['/reviews/*'] } }] }];
    const bySelector = { kind: 'AuthorizationPolicy', metadata: { name: 'reviews-read' }, spec: { selector: { matchLabels: { app: 'reviews' } }, action: 'ALLOW', rules } };
    expect(await rejection(createObject(AP, NS.ambient, bySelector))).toMatch(denied(VALIDATE, 'authz-l7-needs-waypoint'));

    // Done right: attached to the waypoint, which enforces L7.
    const byWaypoint = {
      ...bySelector,
      spec: { targetRefs: [{ kind: 'Gateway', group: 'gateway.networking.k8s.io', name: 'waypoint' }], action: 'ALLOW', rules },
    };
    await expect(createObject(AP, NS.ambient, byWaypoint)).resolves.toMatchObject({ metadata: { name: 'reviews-read' } });
    // And an L4-only policy is fine with a selector (ztunnel enforces it).
    const l4 = { kind: 'AuthorizationPolicy', metadata: { name: 'reviews-l4' }, spec: { selector: { matchLabels: { app: 'reviews' } }, action: 'ALLOW', rules: [{ from: [{ source: { namespaces: [NS.ambient] } }], to: [{ operation: { ports: ['9080'] } }] }] } };
    await expect(createObject(AP, NS.ambient, l4)).resolves.toBeDefined();
    // The removed `when` key, another authz rule.
    const removedKey = { kind: 'AuthorizationPolicy', metadata: { name: 'by-destination' }, spec: { targetRefs: byWaypoint.spec.targetRefs, rules: [{ when: [{ key: 'destination.name', values: ['reviews'] }] }] } };
    expect(await rejection(createObject(AP, NS.ambient, removedKey))).toMatch(denied(VALIDATE, 'authz-removed-when-key'));
  });

  it('regex: a VirtualService regex with lookahead (regex-invalid), through v1 and v1beta1 alike', async () => {
    const vs = (name: string, regex: string) => ({
      kind: 'VirtualService',
      metadata: { name },
      spec: {
        hosts: [`reviews.${NS.ambient}.svc.cluster.local`],
        http: [{ match: [{ uri: { regex } }], route: [{ destination: { host: `reviews.${NS.ambient}.svc.cluster.local` } }] }],
      },
    });
    expect(await rejection(createObject(VS, NS.ambient, vs('reviews', '/reviews/(?!internal).*')))).toMatch(denied(VALIDATE, 'regex-invalid'));
    // The chart's rules list every served version (matchPolicy Equivalent would cover them anyway).
    const beta = { ...VS, version: 'v1beta1' };
    expect(await rejection(createObject(beta, NS.ambient, vs('reviews', '/reviews/(a|b)\\1')))).toMatch(denied(VALIDATE, 'regex-invalid'));
    await expect(createObject(VS, NS.ambient, vs('reviews', '/reviews/[0-9]+'))).resolves.toBeDefined();
  });

  it('waypoint: a waypoint with a wrong listener (waypoint-listener-invalid), and use-waypoint naming a missing waypoint (waypoint-missing)', async () => {
    const bad = waypoint('waypoint-http', { name: 'mesh', port: 8080, protocol: 'HTTP' });
    expect(await rejection(createObject(GW, NS.ambient, bad))).toMatch(denied(VALIDATE, 'waypoint-listener-invalid'));
    await expect(createObject(GW, NS.ambient, waypoint('waypoint-http'))).resolves.toBeDefined();

    // Namespaces are cluster-scoped: the chart's namespaces.validate.meshguard.io entry selects a
    // Namespace by its own labels (opted in: meshguard.io/enforcement), and only label changes reach it.
    const label = (value: string | null) => core.patchNamespace({ name: NS.ambient, body: { metadata: { labels: { 'istio.io/use-waypoint': value } } } }, mergePatch);
    expect(await rejection(label('no-such-waypoint'))).toMatch(denied('namespaces.validate.meshguard.io', 'waypoint-missing'));
    await expect(label('waypoint')).resolves.toMatchObject({ metadata: { labels: { 'istio.io/use-waypoint': 'waypoint' } } });
    await label(null);

    const svc = service('details', { 'istio.io/use-waypoint': 'no-such-waypoint' });
    expect(await rejection(core.createNamespacedService({ namespace: NS.ambient, body: svc }))).toMatch(denied('services.validate.meshguard.io', 'waypoint-missing'));
    await expect(core.createNamespacedService({ namespace: NS.ambient, body: service('details', { 'istio.io/use-waypoint': 'waypoint' }) })).resolves.toBeDefined();
  });

  it('labels and deprecations: deprecated fields (deprecated-field) and invalid dataplane-mode labels (dataplane-mode-invalid)', async () => {
    const host = `ratings.${NS.ambient}.svc.cluster.local`;
    const mirrored = (extra: Record<string, unknown>) => ({
      kind: 'VirtualService',
      metadata: { name: 'ratings-mirror' },
      spec: { hosts: [host], http: [{ route: [{ destination: { host } }], mirror: { host: `ratings-shadow.${NS.ambient}.svc.cluster.local` }, ...extra }] },
    });
    expect(await rejection(createObject(VS, NS.ambient, mirrored({ mirrorPercent: 10 })))).toMatch(denied(VALIDATE, 'deprecated-field'));
    await expect(createObject(VS, NS.ambient, mirrored({ mirrorPercentage: { value: 10 } }))).resolves.toBeDefined();

    const dr = (simple: string) => ({ kind: 'DestinationRule', metadata: { name: 'ratings' }, spec: { host, trafficPolicy: { loadBalancer: { simple } } } });
    expect(await rejection(createObject(DR, NS.ambient, dr('LEAST_CONN')))).toMatch(denied(VALIDATE, 'deprecated-field'));
    await expect(createObject(DR, NS.ambient, dr('LEAST_REQUEST'))).resolves.toBeDefined();

    const ns = (name: string, mode: string) => ({ metadata: { name, labels: { 'meshguard.io/enforcement': 'enforce', 'istio.io/dataplane-mode': mode } } });
    expect(await rejection(core.createNamespace({ body: ns('val-wishful', 'sidecar') }))).toMatch(denied('namespaces.validate.meshguard.io', 'dataplane-mode-invalid'));
    await expect(core.createNamespace({ body: ns('val-wishful', 'ambient') })).resolves.toBeDefined();

    // A pod is refused by the mutating webhook itself, before the injector could see it.
    const pod = simplePod('wishful', { labels: { 'istio.io/dataplane-mode': 'sidecar' } });
    expect(await rejection(core.createNamespacedPod({ namespace: NS.ambient, body: pod }))).toMatch(denied('pod-mode.meshguard.io', 'dataplane-mode-invalid'));
    const fixed = simplePod('wishful', { labels: { 'sidecar.istio.io/inject': 'true' } });
    await expect(core.createNamespacedPod({ namespace: NS.ambient, body: fixed })).resolves.toMatchObject({
      metadata: { annotations: { 'meshguard.io/decision': 'sidecar/pod-istio-labels' } },
    });
  });
});

describe('6. warnings reach the client as Warning headers', () => {
  const post = (path: string, body: unknown) => raw('POST', path, body);

  it('warn mode: an L7 selector-bound policy is admitted with a warning', async () => {
    const res = await post(`/apis/security.istio.io/v1/namespaces/${NS.warn}/authorizationpolicies`, {
      apiVersion: 'security.istio.io/v1',
      kind: 'AuthorizationPolicy',
      metadata: { name: 'no-deletes' },
      spec: { selector: { matchLabels: { app: 'inventory' } }, action: 'DENY', rules: [{ to: [{ operation: { methods: ['DELETE'] } }] }] },
    });
    expect(res.status, res.text).toBe(201);
    // Whole as kube-apiserver relays it: the rule, what is wrong, and the fix at the end.
    expect(res.warnings).toEqual([expect.stringMatching(/^\[authz-l7-needs-waypoint\] spec\.selector binds .* Fix: bind it to a waypoint instead: replace spec\.selector with spec\.targetRefs/)]);
  });

  it('warn mode: an invalid regex is admitted with a warning', async () => {
    const res = await post(`/apis/networking.istio.io/v1/namespaces/${NS.warn}/virtualservices`, {
      apiVersion: 'networking.istio.io/v1',
      kind: 'VirtualService',
      metadata: { name: 'catalog' },
      spec: { hosts: ['catalog'], http: [{ match: [{ uri: { regex: '/items/(?!internal).*' } }], route: [{ destination: { host: 'catalog' } }] }] },
    });
    expect(res.status, res.text).toBe(201);
    expect(res.warnings).toEqual([expect.stringMatching(/^\[regex-invalid\] /)]);
  });

  it('enforce mode: warning-severity rules warn and admit (deprecated-api-version, namespace-multiple-injection-labels)', async () => {
    const vs = await post(`/apis/networking.istio.io/v1beta1/namespaces/${NS.ambient}/virtualservices`, {
      apiVersion: 'networking.istio.io/v1beta1',
      kind: 'VirtualService',
      metadata: { name: 'legacy' },
      spec: { hosts: ['legacy'], http: [{ route: [{ destination: { host: 'legacy' } }] }] },
    });
    expect(vs.status, vs.text).toBe(201);
    expect(vs.warnings).toEqual([expect.stringMatching(/^\[deprecated-api-version\] /)]);

    const ns = await post('/api/v1/namespaces', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'val-mixed', labels: { 'meshguard.io/enforcement': 'enforce', 'istio-injection': 'enabled', 'istio.io/dataplane-mode': 'ambient' } },
    });
    expect(ns.status, ns.text).toBe(201);
    expect(ns.warnings).toEqual([expect.stringMatching(/^\[namespace-multiple-injection-labels\] /)]);
  });
});

describe('7. deleting a waypoint in use', () => {
  const gw = (dryRun?: 'All') => custom.deleteNamespacedCustomObject({ ...GW, namespace: NS.inUse, name: 'waypoint', dryRun });
  const labelService = (value: string | null) =>
    core.patchNamespacedService({ namespace: NS.inUse, name: 'ratings', body: { metadata: { labels: { 'istio.io/use-waypoint': value } } } }, mergePatch);
  const labelNamespace = (value: string | null) => core.patchNamespace({ name: NS.inUse, body: { metadata: { labels: { 'istio.io/use-waypoint': value } } } }, mergePatch);

  it('is refused while a Service or the Namespace uses it, and allowed once they no longer do', async () => {
    await createObject(GW, NS.inUse, waypoint('waypoint'));
    await waypointKnown(NS.inUse, 'waypoint');
    await core.createNamespacedService({ namespace: NS.inUse, body: service('ratings', { 'istio.io/use-waypoint': 'waypoint' }) });
    await labelNamespace('waypoint');

    // meshguard's caches are eventually consistent: wait until both referrers are known.
    const both = await eventually('both referrers in the denial', async () => {
      const message = await rejection(gw('All'));
      return message.includes(`Service ${NS.inUse}/ratings`) && message.includes(`Namespace ${NS.inUse}`) ? message : undefined;
    });
    expect(both).toMatch(denied(VALIDATE, 'waypoint-in-use'));
    expect(both).toContain(`waypoint ${NS.inUse}/waypoint is still used (istio.io/use-waypoint) by 2 objects`);

    await labelService(null);
    const one = await eventually('only the Namespace left', async () => {
      const message = await rejection(gw('All'));
      return message.includes(`Service ${NS.inUse}/ratings`) ? undefined : message;
    });
    expect(one).toMatch(denied(VALIDATE, 'waypoint-in-use'));
    expect(one).toContain('by 1 object: Namespace val-in-use');

    await labelNamespace(null);
    await eventually('the delete to be allowed', async () => {
      await gw();
      return true;
    });
    const gone = await custom.getNamespacedCustomObject({ ...GW, namespace: NS.inUse, name: 'waypoint' }).then(
      () => 'exists',
      (err) => apiCode(err),
    );
    expect(gone).toBe(404);
  });
});

describe('8. deleting or changing the GatewayClass of a waypoint in use', () => {
  const GC = { group: 'gateway.networking.k8s.io', version: 'v1', plural: 'gatewayclasses' };
  const CLASS = 'val-team-waypoint';
  const deleteClass = (dryRun?: 'All') => custom.deleteClusterCustomObject({ ...GC, name: CLASS, dryRun });
  const labelService = (value: string | null) =>
    core.patchNamespacedService({ namespace: NS.inUse, name: 'details', body: { metadata: { labels: { 'istio.io/use-waypoint': value } } } }, mergePatch);

  it('is refused while a Service uses one of its waypoints, and allowed once none does', async () => {
    await custom.createClusterCustomObject({ ...GC, body: { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GatewayClass', metadata: { name: CLASS }, spec: { controllerName: 'istio.io/mesh-controller' } } });
    await createObject(GW, NS.inUse, { ...waypoint('team-wp'), spec: { gatewayClassName: CLASS, listeners: [{ name: 'mesh', port: 15008, protocol: 'HBONE' }] } });
    await waypointKnown(NS.inUse, 'team-wp');
    await core.createNamespacedService({ namespace: NS.inUse, body: service('details', { 'istio.io/use-waypoint': 'team-wp' }) });

    const message = await eventually('the class delete to be refused', async () => rejection(deleteClass('All')).catch(() => false));
    expect(message).toMatch(denied('gatewayclasses.validate.meshguard.io', 'waypoint-in-use'));
    expect(message).toContain(`deleting GatewayClass ${CLASS} takes away waypoints that are in use: waypoint ${NS.inUse}/team-wp, used by 1 object: Service ${NS.inUse}/details`);

    // The stand-in CRD has no immutability rule on controllerName, so this UPDATE reaches meshguard
    // (with the published CRD the API server refuses it first).
    const moved = custom.patchClusterCustomObject({ ...GC, name: CLASS, body: { spec: { controllerName: 'example.com/gateway' } }, dryRun: 'All' }, mergePatch);
    expect(await rejection(moved)).toMatch(denied('gatewayclasses.validate.meshguard.io', 'waypoint-in-use'));

    await labelService(null);
    await eventually('the class delete to be allowed', async () => deleteClass().then(() => true, () => false));
    expect(await custom.getClusterCustomObject({ ...GC, name: CLASS }).then(() => 'exists', (err) => apiCode(err))).toBe(404);
  });
});
