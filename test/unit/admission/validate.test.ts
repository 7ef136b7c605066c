import { describe, expect, it } from 'vitest';
import { testApp } from '../../helpers/app.js';
import { namespace, pod, podReview, review } from '../../helpers/objects.js';

const waypoint = {
  apiVersion: 'gateway.networking.k8s.io/v1',
  kind: 'Gateway',
  metadata: { name: 'waypoint', namespace: 'shop', labels: { 'istio.io/waypoint-for': 'service' } },
  spec: { gatewayClassName: 'istio-waypoint', listeners: [{ name: 'mesh', port: 15008, protocol: 'HBONE' }] },
};
const cluster = [
  namespace('shop', { 'istio.io/dataplane-mode': 'ambient' }),
  namespace('warned', { 'istio.io/dataplane-mode': 'ambient', 'meshguard.io/enforcement': 'warn' }),
  namespace('watched', { 'istio.io/dataplane-mode': 'ambient', 'meshguard.io/enforcement': 'audit' }),
  namespace('ignored', { 'istio.io/dataplane-mode': 'ambient', 'meshguard.io/enforcement': 'off' }),
  namespace('locked', { 'istio.io/dataplane-mode': 'ambient', 'meshguard.io/allow-mode-override': 'false' }),
  waypoint,
];

const l7Selector = (ns: string) => ({
  apiVersion: 'security.istio.io/v1',
  kind: 'AuthorizationPolicy',
  metadata: { name: 'deny-delete', namespace: ns },
  spec: { selector: { matchLabels: { app: 'reviews' } }, action: 'DENY', rules: [{ to: [{ operation: { methods: ['DELETE'] } }] }] },
});
const apReview = (ns: string, extra: Record<string, unknown> = {}) =>
  review({ kind: { group: 'security.istio.io', version: 'v1', kind: 'AuthorizationPolicy' }, namespace: ns, name: 'deny-delete', object: l7Selector(ns), ...extra });

function setup() {
  const { app, lines, metrics } = testApp(cluster);
  const validate = async (body: unknown) => {
    const res = await app.inject({ method: 'POST', url: '/validate', headers: { 'content-type': 'application/json' }, payload: JSON.stringify(body) });
    expect(res.statusCode).toBe(200);
    return res.json().response;
  };
  return { validate, lines, metrics };
}

describe('/validate and the enforcement table', () => {
  it('enforce: an error denies with [rule-id], path and fix', async () => {
    const { validate, lines, metrics } = setup();
    const r = await validate(apReview('shop'));
    expect(r.allowed).toBe(false);
    expect(r.status.code).toBe(403);
    expect(r.status.message).toMatch(/^\[authz-l7-needs-waypoint\] .*methods.*blocks nothing.*targetRefs.*waypoint/s);
    expect(lines.at(-1)).toMatchObject({ webhook: 'validate', result: 'denied', rules: ['authz-l7-needs-waypoint'], enforcement: 'enforce' });
    expect(await metrics.registry.getSingleMetricAsString('meshguard_validation_findings_total')).toMatch(
      /rule="authz-l7-needs-waypoint",severity="error",result="denied"} 1/,
    );
  });

  it('the same policy bound to the waypoint with targetRefs is admitted', async () => {
    const { validate } = setup();
    const fixed = l7Selector('shop');
    fixed.spec = { ...fixed.spec, selector: undefined, targetRefs: [{ kind: 'Gateway', group: 'gateway.networking.k8s.io', name: 'waypoint' }] } as never;
    delete (fixed.spec as { selector?: unknown }).selector;
    const r = await validate(review({ kind: { group: 'security.istio.io', version: 'v1', kind: 'AuthorizationPolicy' }, namespace: 'shop', object: fixed }));
    expect(r).toMatchObject({ allowed: true });
    expect(r.warnings).toBeUndefined();
  });

  it('warn: errors are allowed with a warning kubectl shows whole (rule, what, fix); the audit line has the full text', async () => {
    const { validate, lines } = setup();
    const r = await validate(apReview('warned'));
    expect(r.allowed).toBe(true);
    expect(r.warnings).toHaveLength(1);
    expect(r.warnings[0]).toMatch(/^\[authz-l7-needs-waypoint\] spec\.selector binds this policy to ztunnel .* Fix: bind it to a waypoint instead: replace spec\.selector with spec\.targetRefs/);
    expect([...r.warnings[0]].length).toBeLessThanOrEqual(256);
    const full = lines.at(-1).findings[0].message;
    expect(full.length).toBeGreaterThan(256);
    expect(full).toContain('blocks nothing at all');
  });

  it('audit: allowed silently, but logged with the finding', async () => {
    const { validate, lines } = setup();
    const r = await validate(apReview('watched'));
    expect(r.allowed).toBe(true);
    expect(r.warnings).toBeUndefined();
    expect(lines.at(-1).findings).toEqual([expect.objectContaining({ rule: 'authz-l7-needs-waypoint', severity: 'error', result: 'logged' })]);
  });

  it('off: skipped', async () => {
    const { validate, lines } = setup();
    expect((await validate(apReview('ignored'))).allowed).toBe(true);
    expect(lines.at(-1)).toMatchObject({ enforcement: 'off', findings: [] });
  });

  it('a kind meshguard does not validate is allowed untouched', async () => {
    const { validate } = setup();
    const r = await validate(review({ kind: { group: 'apps', version: 'v1', kind: 'Deployment' }, namespace: 'shop', object: { kind: 'Deployment', metadata: { name: 'x' } } }));
    expect(r).toMatchObject({ allowed: true });
  });

  it('GatewayClass (cluster-scoped) follows the policy cluster enforcement', async () => {
    const { validate } = setup();
    const r = await validate(
      review({
        kind: { group: 'gateway.networking.k8s.io', version: 'v1', kind: 'GatewayClass' },
        name: 'istio-waypoint',
        object: { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GatewayClass', metadata: { name: 'istio-waypoint', labels: { 'istio.io/waypoint-for': 'everything' } }, spec: { controllerName: 'istio.io/mesh-controller' } },
      }),
    );
    expect(r.allowed).toBe(false);
    expect(r.status.message).toMatch(/^\[waypoint-for-invalid\]/);
  });

  it('waypoint-in-use: a DELETE of a waypoint still bound to is denied, listing the referrers', async () => {
    const { app } = testApp([...cluster, { apiVersion: 'v1', kind: 'Service', metadata: { name: 'reviews', namespace: 'shop', labels: { 'istio.io/use-waypoint': 'waypoint' } } }]);
    const res = await app.inject({
      method: 'POST',
      url: '/validate',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify(review({ kind: { group: 'gateway.networking.k8s.io', version: 'v1', kind: 'Gateway' }, operation: 'DELETE', namespace: 'shop', name: 'waypoint', oldObject: waypoint })),
    });
    const r = res.json().response;
    expect(r.allowed).toBe(false);
    expect(r.status.message).toMatch(/^\[waypoint-in-use\].*Service shop\/reviews/);
  });
});

describe('deprecations on UPDATE are ratcheted', () => {
  const vs = (extra: Record<string, unknown>) => ({
    apiVersion: 'networking.istio.io/v1',
    kind: 'VirtualService',
    metadata: { name: 'reviews', namespace: 'shop', labels: {} },
    spec: { hosts: ['reviews'], http: [{ route: [{ destination: { host: 'reviews' } }], ...extra }] },
  });
  const vsReview = (object: unknown, oldObject?: unknown) =>
    review({ kind: { group: 'networking.istio.io', version: 'v1', kind: 'VirtualService' }, namespace: 'shop', object, operation: oldObject ? 'UPDATE' : 'CREATE', ...(oldObject ? { oldObject } : {}) });

  it('a new deprecated field is denied', async () => {
    const { validate } = setup();
    const r = await validate(vsReview(vs({ mirrorPercent: 5 })));
    expect(r.allowed).toBe(false);
    expect(r.status.message).toMatch(/^\[deprecated-field\].*mirrorPercentage/);
  });

  it('one the object already had only warns, so a relabel still goes through', async () => {
    const { validate } = setup();
    const relabelled = vs({ mirrorPercent: 5 });
    relabelled.metadata.labels = { team: 'a' };
    const r = await validate(vsReview(relabelled, vs({ mirrorPercent: 5 })));
    expect(r.allowed).toBe(true);
    expect(r.warnings[0]).toMatch(/^\[deprecated-field\]/);
  });

  it('adding it on UPDATE is still denied', async () => {
    const { validate } = setup();
    expect((await validate(vsReview(vs({ mirrorPercent: 5 }), vs({})))).allowed).toBe(false);
  });
});

describe('deprecated-api-version reads the version the client asked for', () => {
  it('requestKind v1beta1 converted to v1 (matchPolicy Equivalent) still warns', async () => {
    const { validate } = setup();
    const r = await validate(
      review({
        kind: { group: 'networking.istio.io', version: 'v1', kind: 'DestinationRule' },
        requestKind: { group: 'networking.istio.io', version: 'v1beta1', kind: 'DestinationRule' },
        namespace: 'shop',
        object: { apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'r', namespace: 'shop' }, spec: { host: 'reviews' } },
      }),
    );
    expect(r.allowed).toBe(true);
    expect(r.warnings?.[0]).toMatch(/^\[deprecated-api-version\]/);
  });
});

describe('pod UPDATEs that change the mode labels (issue 7.9)', () => {
  const admitted = pod({ labels: { 'istio.io/dataplane-mode': 'ambient', 'sidecar.istio.io/inject': 'false' }, annotations: { 'meshguard.io/decision': 'ambient/namespace-default' } });
  const optedOut = pod({ labels: { 'istio.io/dataplane-mode': 'none', 'sidecar.istio.io/inject': 'false' }, annotations: { 'meshguard.io/decision': 'ambient/namespace-default' } });
  const podUpdate = (ns: string, object = optedOut) => podReview(ns, object, { operation: 'UPDATE', oldObject: admitted, name: 'web-1' });

  it('leaving the mesh is denied where the namespace forbids overrides, and counted as a Pod UPDATE', async () => {
    const { validate, metrics } = setup();
    const r = await validate(podUpdate('locked'));
    expect(r.allowed).toBe(false);
    expect(r.status.code).toBe(403);
    expect(r.status.message).toMatch(/^\[mode-override-forbidden\] .*from "ambient" to "none".*\(at metadata\.labels\["istio\.io\/dataplane-mode"\]\)$/);
    expect(await metrics.registry.metrics()).toMatch(/meshguard_admission_requests_total\{webhook="validate",kind="Pod",operation="UPDATE",result="denied"\} 1/);
  });

  it('allowed where overrides are allowed; a forged decision is denied everywhere', async () => {
    const { validate } = setup();
    expect((await validate(podUpdate('shop'))).allowed).toBe(true);
    const forged = pod({ labels: { 'istio.io/dataplane-mode': 'ambient', 'sidecar.istio.io/inject': 'false' }, annotations: { 'meshguard.io/decision': 'none/pod-override' } });
    expect((await validate(podUpdate('shop', forged))).status.message).toMatch(/^\[decision-annotation-reserved\] /);
  });
});
