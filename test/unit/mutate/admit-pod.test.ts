import { describe, expect, it } from 'vitest';
import type { AdmissionRequest } from '../../../src/admission/review.js';
import { ClusterStore } from '../../../src/cluster/snapshot.js';
import { admitMutation } from '../../../src/mutate/admit-pod.js';
import { admitValidation } from '../../../src/validate/admit.js';
import { namespace, pod, podReview, policy } from '../../helpers/objects.js';

// Issue 10, goal 1: the pod checks of a Pod CREATE run in the mutating call (--pod-checks mutating,
// the chart's default), so no validating entry has to match an ordinary pod; with `validating` they
// are left to pods.validate.meshguard.io. Either way they are the validators' own findings.
const waypoint = {
  apiVersion: 'gateway.networking.k8s.io/v1',
  kind: 'Gateway',
  metadata: { name: 'waypoint', namespace: 'shop', labels: { 'istio.io/waypoint-for': 'all' } },
  spec: { gatewayClassName: 'istio-waypoint', listeners: [{ name: 'mesh', port: 15008, protocol: 'HBONE' }] },
};
const cluster = (labels: Record<string, string> = {}) => new ClusterStore([namespace('shop', { 'istio.io/dataplane-mode': 'ambient', ...labels }), waypoint]);
const request = (p = pod()) => podReview('shop', p).request as unknown as AdmissionRequest;
const rules = (o: { findings: { rule: string }[] }) => o.findings.map((f) => f.rule);

describe('admitMutation: the pod checks of a Pod CREATE', () => {
  it.each([
    ['a use-waypoint naming no Gateway', pod({ labels: { 'istio.io/use-waypoint': 'nowhere' } }), ['waypoint-missing']],
    ['the removed annotation istio.io/for-service-account', pod({ annotations: { 'istio.io/for-service-account': 'reviews' } }), ['removed-annotation']],
    ['a use-waypoint naming the waypoint', pod({ labels: { 'istio.io/use-waypoint': 'waypoint' } }), []],
    ['nothing the checks read', pod(), []],
  ])('with %s: the same findings as the validating call', (_name, p, expected) => {
    const mutation = admitMutation(request(p), cluster(), policy);
    expect(rules(mutation)).toEqual(expected);
    expect(rules(mutation)).toEqual(rules(admitValidation(request(p), cluster(), policy)));
    expect(mutation.allowed).toBe(expected.length === 0);
    if (expected.length) expect(mutation.patch).toBeUndefined();
    if (expected.length) expect(mutation).toMatchObject({ result: 'denied', denial: expect.stringMatching(new RegExp(`^\\[${expected[0]}\\]`)) });
  });

  it('under warn: the pod is patched into its mode, with the findings as warnings', () => {
    const outcome = admitMutation(request(pod({ labels: { 'istio.io/use-waypoint': 'nowhere' } })), cluster({ 'meshguard.io/enforcement': 'warn' }), policy);
    expect(outcome).toMatchObject({ allowed: true, result: 'patched', mode: 'ambient', warnings: [expect.stringMatching(/^\[waypoint-missing\]/)] });
    expect(outcome.patch?.length).toBeGreaterThan(0);
  });

  it('with podChecksAt validating: left to the validating call, only the mode is decided', () => {
    const outcome = admitMutation(request(pod({ labels: { 'istio.io/use-waypoint': 'nowhere' } })), cluster(), policy, 'validating');
    expect(outcome).toMatchObject({ allowed: true, result: 'patched', findings: [] });
  });
});
