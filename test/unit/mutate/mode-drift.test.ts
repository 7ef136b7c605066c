import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../../../src/kube.js';
import { podAsCreated, podModeDrift } from '../../../src/mutate/mode-drift.js';
import { runningPodState } from '../../../src/mutate/running-mode.js';
import { namespaceConfig } from '../../../src/policy/namespace-config.js';
import { namespace, policy } from '../../helpers/objects.js';

function runningPod(o: { labels?: Record<string, string>; annotations?: Record<string, string>; hostNetwork?: boolean; containers?: string[]; initContainers?: string[] } = {}): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', namespace: 'apps', labels: o.labels ?? {}, annotations: o.annotations ?? {} },
    spec: {
      ...(o.hostNetwork && { hostNetwork: true }),
      containers: (o.containers ?? ['app']).map((name) => ({ name, image: 'x' })),
      ...(o.initContainers && { initContainers: o.initContainers.map((name) => ({ name, image: 'x' })) }),
    },
  };
}

const ambientNs = namespace('apps', { 'istio.io/dataplane-mode': 'ambient' });
const plainNs = namespace('apps');

describe('runningPodState: the mode Istio puts a running pod in, and what showed it (istio-cni enablement selectors, podHasSidecar)', () => {
  it.each<[string, KubeObject, KubeObject | undefined, string, string]>([
    ['sidecar status annotation', runningPod({ annotations: { 'sidecar.istio.io/status': '{}' } }), ambientNs, 'sidecar', 'annotation sidecar.istio.io/status'],
    ['istio-proxy container', runningPod({ containers: ['app', 'istio-proxy'] }), ambientNs, 'sidecar', 'container istio-proxy'],
    ['istio-proxy native sidecar (init container)', runningPod({ initContainers: ['istio-proxy'] }), plainNs, 'sidecar', 'container istio-proxy'],
    ['a sidecar wins over the ambient pod label', runningPod({ labels: { 'istio.io/dataplane-mode': 'ambient' }, containers: ['istio-proxy'] }), plainNs, 'sidecar', 'container istio-proxy'],
    ['hostNetwork is never captured', runningPod({ hostNetwork: true, labels: { 'istio.io/dataplane-mode': 'ambient' } }), ambientNs, 'none', 'hostNetwork'],
    ['pod label ambient', runningPod({ labels: { 'istio.io/dataplane-mode': 'ambient' } }), plainNs, 'ambient', 'pod label istio.io/dataplane-mode=ambient'],
    ['pod label none opts out of an ambient namespace', runningPod({ labels: { 'istio.io/dataplane-mode': 'none' } }), ambientNs, 'none', 'pod label istio.io/dataplane-mode=none'],
    ['namespace label ambient', runningPod(), ambientNs, 'ambient', 'namespace label istio.io/dataplane-mode=ambient'],
    ['an invalid pod label does not opt out (NotIn [none])', runningPod({ labels: { 'istio.io/dataplane-mode': 'sidecar' } }), ambientNs, 'ambient', 'namespace label istio.io/dataplane-mode=ambient'],
    ['nothing', runningPod(), plainNs, 'none', 'no sidecar and no ambient label'],
    ['an unknown namespace', runningPod(), undefined, 'none', 'no sidecar and no ambient label'],
    ['inject label alone is no sidecar (the injector did not run)', runningPod({ labels: { 'sidecar.istio.io/inject': 'true' } }), plainNs, 'none', 'no sidecar and no ambient label'],
  ])('%s', (_, pod, ns, mode, evidence) => {
    expect(runningPodState(pod, ns)).toEqual({ mode, evidence });
  });
});

describe('podAsCreated: meshguard reads its own patch back as absent', () => {
  const labelled = (labels: Record<string, string>, decision?: string) =>
    runningPod({ labels: { app: 'web', ...labels }, annotations: decision ? { 'meshguard.io/decision': decision } : {} });
  it.each<[string, KubeObject, Record<string, string>]>([
    ['no decision annotation: untouched', labelled({ 'istio.io/dataplane-mode': 'ambient' }), { app: 'web', 'istio.io/dataplane-mode': 'ambient' }],
    ['ambient by namespace-default: both mode labels dropped', labelled({ 'istio.io/dataplane-mode': 'ambient', 'sidecar.istio.io/inject': 'false' }, 'ambient/namespace-default'), { app: 'web' }],
    ['sidecar by sidecar-only-feature: dropped', labelled({ 'istio.io/dataplane-mode': 'none', 'sidecar.istio.io/inject': 'true' }, 'sidecar/sidecar-only-feature'), { app: 'web' }],
    ['decided by the pod\'s own labels: kept', labelled({ 'istio.io/dataplane-mode': 'none', 'sidecar.istio.io/inject': 'false' }, 'none/pod-istio-labels'), { app: 'web', 'istio.io/dataplane-mode': 'none', 'sidecar.istio.io/inject': 'false' }],
    ['a label changed since: kept', labelled({ 'istio.io/dataplane-mode': 'none', 'sidecar.istio.io/inject': 'false' }, 'ambient/namespace-default'), { app: 'web', 'istio.io/dataplane-mode': 'none' }],
    ['a malformed annotation: untouched', labelled({ 'istio.io/dataplane-mode': 'ambient' }, 'whatever'), { app: 'web', 'istio.io/dataplane-mode': 'ambient' }],
  ])('%s', (_, pod, labels) => {
    expect(podAsCreated(pod, pod.metadata?.annotations?.['meshguard.io/decision']).metadata?.labels).toEqual(labels);
  });
});

describe('podModeDrift', () => {
  const ns = namespaceConfig(namespace('apps', { 'meshguard.io/default-mode': 'ambient' }), policy);
  it('is silent when the modes agree', () => {
    expect(podModeDrift({ mode: 'ambient', evidence: 'x' }, { mode: 'ambient', rule: 'namespace-default' }, ns, 'Deployment apps/web', policy)).toBeUndefined();
  });
  it('names both modes, the deciding rule and the fix', () => {
    const f = podModeDrift({ mode: 'sidecar', evidence: 'container istio-proxy' }, { mode: 'ambient', rule: 'namespace-default' }, ns, 'Deployment apps/web', policy);
    expect(f).toEqual({
      rule: 'pod-mode-drift',
      severity: 'warning',
      path: 'metadata',
      message:
        '[pod-mode-drift] runs in sidecar mode (container istio-proxy), but meshguard decides ambient for it now (rule namespace-default: meshguard.io/default-mode=ambient). A pod gets its mode when it is created: restart Deployment apps/web so its pods are created again in ambient mode.',
    });
  });
  it('follows the policy: a raised severity, or off', () => {
    const drift = (rules: Record<string, 'error' | 'off'>) =>
      podModeDrift({ mode: 'none', evidence: 'x' }, { mode: 'ambient', rule: 'pod-override' }, ns, 'Pod apps/p', { ...policy, rules });
    expect(drift({ 'pod-mode-drift': 'error' })?.severity).toBe('error');
    expect(drift({ 'pod-mode-drift': 'off' })).toBeUndefined();
  });
});
