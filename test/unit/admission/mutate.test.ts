import { describe, expect, it } from 'vitest';
import { testApp } from '../../helpers/app.js';
import { namespace, pod, podReview, review } from '../../helpers/objects.js';

const cluster = [
  namespace('shop', { 'istio.io/dataplane-mode': 'ambient' }),
  namespace('legacy', { 'istio-injection': 'enabled' }),
  namespace('warned', { 'istio.io/dataplane-mode': 'ambient', 'meshguard.io/enforcement': 'warn' }),
  namespace('watched', { 'istio.io/dataplane-mode': 'ambient', 'meshguard.io/enforcement': 'audit' }),
  namespace('ignored', { 'istio.io/dataplane-mode': 'ambient', 'meshguard.io/enforcement': 'off' }),
];

function setup() {
  const { app, lines, metrics } = testApp(cluster);
  const mutate = async (body: unknown) => {
    const res = await app.inject({ method: 'POST', url: '/mutate', headers: { 'content-type': 'application/json' }, payload: JSON.stringify(body) });
    expect(res.statusCode).toBe(200);
    const { response } = res.json();
    return { ...response, ops: response.patch ? JSON.parse(Buffer.from(response.patch, 'base64').toString()) : undefined };
  };
  return { mutate, lines, metrics };
}

describe('/mutate', () => {
  it('patches an ambient pod and records mode and rule in auditAnnotations', async () => {
    const { mutate } = setup();
    const r = await mutate(podReview('shop', pod()));
    expect(r.allowed).toBe(true);
    expect(r.auditAnnotations).toEqual({ mode: 'ambient', rule: 'namespace-default' });
    expect(r.ops).toContainEqual({ op: 'add', path: '/metadata/annotations', value: { 'meshguard.io/decision': 'ambient/namespace-default' } });
  });

  it('a Job pod in a sidecar namespace goes ambient', async () => {
    const { mutate } = setup();
    expect((await mutate(podReview('legacy', pod({ owner: 'Job' })))).auditAnnotations).toEqual({ mode: 'ambient', rule: 'no-sidecar-for-jobs' });
  });

  it('dryRun requests get the same answer', async () => {
    const { mutate } = setup();
    const wet = await mutate(podReview('shop', pod()));
    const dry = await mutate(podReview('shop', pod(), { dryRun: true }));
    expect(dry.ops).toEqual(wet.ops);
  });

  it('only Pod CREATE is mutated', async () => {
    const { mutate } = setup();
    expect((await mutate(podReview('shop', pod(), { operation: 'UPDATE', oldObject: pod() }))).patch).toBeUndefined();
    expect((await mutate(podReview('shop', pod(), { subResource: 'ephemeralcontainers' }))).patch).toBeUndefined();
    const svc = review({ kind: { group: '', version: 'v1', kind: 'Service' }, namespace: 'shop', object: { kind: 'Service', metadata: { name: 's' } } });
    const r = await mutate(svc);
    expect(r.allowed).toBe(true);
    expect(r.patch).toBeUndefined();
  });

  it('warn: what enforce denies is allowed, with a warning, and the pod still gets a valid mode', async () => {
    const { mutate } = setup();
    const r = await mutate(podReview('warned', pod({ labels: { 'istio.io/dataplane-mode': 'sidecar' } })));
    expect(r.allowed).toBe(true);
    expect(r.warnings).toHaveLength(1);
    expect(r.warnings[0]).toMatch(/^\[dataplane-mode-invalid\] /);
    expect(r.warnings[0]).toContain('For a sidecar, set the label sidecar.istio.io/inject="true" instead.');
    expect(r.ops).toContainEqual({ op: 'add', path: '/metadata/labels/istio.io~1dataplane-mode', value: 'ambient' });
  });

  it('audit: allowed, no patch, but logged and counted', async () => {
    const { mutate, lines, metrics } = setup();
    const r = await mutate(podReview('watched', pod({ labels: { 'istio.io/dataplane-mode': 'sidecar' } })));
    expect(r.allowed).toBe(true);
    expect(r.patch).toBeUndefined();
    expect(r.warnings).toBeUndefined();
    expect(lines.at(-1)).toMatchObject({ enforcement: 'audit', mode: 'ambient', result: 'allowed', rules: ['dataplane-mode-invalid'] });
    expect(await metrics.registry.getSingleMetricAsString('meshguard_pod_mode_decisions_total')).toMatch(/mode="ambient",rule="namespace-default"} 1/);
  });

  it('off: the namespace is left alone', async () => {
    const { mutate } = setup();
    const r = await mutate(podReview('ignored', pod({ labels: { 'istio.io/dataplane-mode': 'sidecar' } })));
    expect(r.allowed).toBe(true);
    expect(r.patch).toBeUndefined();
  });

  it('the decision annotation is meshguard\'s: a forged rule is overwritten, its own is kept on reinvocation', async () => {
    const { mutate } = setup();
    const forged = await mutate(podReview('shop', pod({ annotations: { 'meshguard.io/decision': 'ambient/pod-override' } })));
    expect(forged.ops).toContainEqual({ op: 'add', path: '/metadata/annotations/meshguard.io~1decision', value: 'ambient/namespace-default' });
    const reinvoked = pod({
      labels: { 'istio.io/dataplane-mode': 'ambient', 'sidecar.istio.io/inject': 'false' },
      annotations: { 'meshguard.io/decision': 'ambient/namespace-default' },
    });
    const again = await mutate(podReview('shop', reinvoked));
    expect(again.patch).toBeUndefined();
    expect(again.auditAnnotations).toEqual({ mode: 'ambient', rule: 'pod-istio-labels' });
  });

  it('writes one audit line per decision, without the pod spec', async () => {
    const { mutate, lines } = setup();
    const p = pod({ labels: { secret: 'x' } });
    p.spec.containers[0].env = [{ name: 'PASSWORD', value: 'hunter2' }];
    await mutate(podReview('shop', p));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      msg: 'admission decision', webhook: 'mutate', operation: 'CREATE', group: '', version: 'v1', kind: 'Pod',
      namespace: 'shop', name: 'app-', user: 'alice', dryRun: false, result: 'patched', mode: 'ambient', rule: 'namespace-default', enforcement: 'enforce',
    });
    expect(typeof lines[0].durationMs).toBe('number');
    expect(JSON.stringify(lines[0])).not.toMatch(/hunter2|PASSWORD|containers/);
  });

  it('counts requests by webhook, kind, operation and result', async () => {
    const { mutate, metrics } = setup();
    await mutate(podReview('shop', pod()));
    await mutate(podReview('shop', pod({ labels: { 'istio.io/dataplane-mode': 'sidecar' } })));
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/meshguard_admission_requests_total\{webhook="mutate",kind="Pod",operation="CREATE",result="patched"\} 1/);
    expect(text).toMatch(/meshguard_admission_requests_total\{webhook="mutate",kind="Pod",operation="CREATE",result="denied"\} 1/);
    expect(text).toMatch(/meshguard_admission_duration_seconds_count\{webhook="mutate"\} 2/);
  });
});
