import { describe, expect, it } from 'vitest';
import { decisionRecord } from '../../../src/mutate/decision-record.js';
import { decidePodMode } from '../../../src/mutate/pod-mode.js';
import { namespaceConfig } from '../../../src/policy/namespace-config.js';
import { namespace, pod, policy } from '../../helpers/objects.js';

const AMBIENT_NS = namespaceConfig(namespace('shop', { 'istio.io/dataplane-mode': 'ambient' }), policy);
const SIDECAR_NS = namespaceConfig(namespace('legacy', { 'istio-injection': 'enabled' }), policy);
const AMBIENT = { 'istio.io/dataplane-mode': 'ambient', 'sidecar.istio.io/inject': 'false' };
const SIDECAR = { 'sidecar.istio.io/inject': 'true', 'istio.io/dataplane-mode': 'none' };
const decision = (annotation: string | undefined, extra: Parameters<typeof pod>[0] = {}) => ({
  ...extra,
  annotations: { ...extra.annotations, ...(annotation !== undefined && { 'meshguard.io/decision': annotation }) },
});

describe('decisionRecord: the decision annotation is meshguard\'s to write', () => {
  it.each([
    // [name, pod, namespace, recorded on the pod]
    ['no annotation: the decision', decision(undefined), AMBIENT_NS, 'ambient/namespace-default'],
    ['its own decision is kept', decision('ambient/namespace-default'), AMBIENT_NS, 'ambient/namespace-default'],
    ['reinvocation: meshguard\'s labels, the rule that first decided', decision('ambient/namespace-default', { labels: AMBIENT }), AMBIENT_NS, 'ambient/namespace-default'],
    ['reinvocation of a Job pod in a sidecar namespace', decision('ambient/no-sidecar-for-jobs', { labels: AMBIENT, owner: 'Job' }), SIDECAR_NS, 'ambient/no-sidecar-for-jobs'],
    ['reinvocation of a sidecar-only feature', decision('sidecar/sidecar-only-feature', { labels: SIDECAR, annotations: { 'sidecar.istio.io/userVolume': '[]' } }), AMBIENT_NS, 'sidecar/sidecar-only-feature'],
    ['reinvocation where the deprecated inject annotation lost to a conflict', decision('sidecar/namespace-default', { labels: SIDECAR, annotations: { 'sidecar.istio.io/inject': 'true' } }), SIDECAR_NS, 'sidecar/namespace-default'],
  ])('kept: %s', (_name, opts, ns, want) => {
    const p = pod(opts);
    expect(decisionRecord(p, decidePodMode(p, ns, policy), ns, policy)).toBe(want);
  });

  it.each([
    ['a forged rule: pod-override without the annotation', decision('ambient/pod-override'), AMBIENT_NS, 'ambient/namespace-default'],
    ['a forged rule with the mode labels: no override either', decision('ambient/pod-override', { labels: AMBIENT }), AMBIENT_NS, 'ambient/pod-istio-labels'],
    ['a forged namespace-default in a sidecar namespace', decision('ambient/namespace-default', { labels: AMBIENT }), SIDECAR_NS, 'ambient/pod-istio-labels'],
    ['a forged mode', decision('none/host-network'), AMBIENT_NS, 'ambient/namespace-default'],
    ['a stale record copied from a pod of another namespace', decision('sidecar/namespace-default', { labels: SIDECAR }), AMBIENT_NS, 'sidecar/pod-istio-labels'],
    ['the labels are not exactly the mode\'s', decision('ambient/namespace-default', { labels: { 'istio.io/dataplane-mode': 'ambient' } }), AMBIENT_NS, 'ambient/pod-istio-labels'],
    ['junk', decision('junk'), AMBIENT_NS, 'ambient/namespace-default'],
    ['empty', decision(''), AMBIENT_NS, 'ambient/namespace-default'],
  ])('replaced: %s', (_name, opts, ns, want) => {
    const p = pod(opts);
    expect(decisionRecord(p, decidePodMode(p, ns, policy), ns, policy)).toBe(want);
  });
});
