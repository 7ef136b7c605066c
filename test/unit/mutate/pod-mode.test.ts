import { describe, expect, it } from 'vitest';
import { decidePodMode } from '../../../src/mutate/pod-mode.js';
import { namespaceConfig } from '../../../src/policy/namespace-config.js';
import { namespace, pod, policy } from '../../helpers/objects.js';

const ns = (labels: Record<string, string> = {}) => namespaceConfig(namespace('ns', labels), policy);
const AMBIENT_NS = { 'istio.io/dataplane-mode': 'ambient' };
const SIDECAR_NS = { 'istio-injection': 'enabled' };

describe('namespaceConfig', () => {
  it.each([
    ['no labels: the policy cluster default', {}, 'ambient'],
    ['meshguard.io/default-mode wins over Istio labels', { 'meshguard.io/default-mode': 'none', ...SIDECAR_NS }, 'none'],
    ['istio.io/dataplane-mode=ambient', AMBIENT_NS, 'ambient'],
    ['istio-injection=enabled', SIDECAR_NS, 'sidecar'],
    ['any istio.io/rev gives sidecar', { 'istio.io/rev': 'canary' }, 'sidecar'],
    ['istio-injection=disabled says nothing', { 'istio-injection': 'disabled' }, 'ambient'],
    ['an invalid default-mode is ignored', { 'meshguard.io/default-mode': 'sidecars', ...SIDECAR_NS }, 'sidecar'],
  ])('%s', (_name, labels, mode) => {
    expect(ns(labels).defaultMode).toBe(mode);
  });

  it.each([
    [{}, 'enforce'],
    [{ 'meshguard.io/enforcement': 'warn' }, 'warn'],
    [{ 'meshguard.io/enforcement': 'audit' }, 'audit'],
    [{ 'meshguard.io/enforcement': 'off' }, 'off'],
    [{ 'meshguard.io/enforcement': 'bogus' }, 'enforce'],
  ])('enforcement from %j is %s', (labels, enforcement) => {
    expect(ns(labels).enforcement).toBe(enforcement);
  });

  it('an unknown namespace gets the cluster defaults', () => {
    expect(namespaceConfig(undefined, policy)).toMatchObject({ enforcement: 'enforce', defaultMode: 'ambient', allowModeOverride: true });
  });

  it('allow-mode-override is true unless the label says "false"', () => {
    expect(ns({ 'meshguard.io/allow-mode-override': 'false' }).allowModeOverride).toBe(false);
    expect(ns({ 'meshguard.io/allow-mode-override': 'no' }).allowModeOverride).toBe(true);
  });
});

describe('decidePodMode: the first rule that applies wins', () => {
  it.each([
    // rule 1
    ['host-network beats everything', pod({ hostNetwork: true, annotations: { 'meshguard.io/mode': 'sidecar' } }), SIDECAR_NS, 'none', 'host-network'],
    // rule 2
    ['pod-override: ambient in a sidecar namespace', pod({ annotations: { 'meshguard.io/mode': 'ambient' } }), SIDECAR_NS, 'ambient', 'pod-override'],
    ['pod-override: none', pod({ annotations: { 'meshguard.io/mode': 'none' } }), AMBIENT_NS, 'none', 'pod-override'],
    ['pod-override beats the pod labels', pod({ annotations: { 'meshguard.io/mode': 'ambient' }, labels: { 'sidecar.istio.io/inject': 'true' } }), {}, 'ambient', 'pod-override'],
    // rule 3
    ['sidecar.istio.io/inject=true label', pod({ labels: { 'sidecar.istio.io/inject': 'true' } }), AMBIENT_NS, 'sidecar', 'pod-istio-labels'],
    ['istio.io/dataplane-mode=ambient label', pod({ labels: { 'istio.io/dataplane-mode': 'ambient' } }), SIDECAR_NS, 'ambient', 'pod-istio-labels'],
    ['istio.io/dataplane-mode=none label', pod({ labels: { 'istio.io/dataplane-mode': 'none' } }), AMBIENT_NS, 'none', 'pod-istio-labels'],
    ['inject=false alone decides nothing', pod({ labels: { 'sidecar.istio.io/inject': 'false' } }), SIDECAR_NS, 'sidecar', 'namespace-default'],
    ['inject=yes is not the pod-level opt-in "true"', pod({ labels: { 'sidecar.istio.io/inject': 'yes' } }), AMBIENT_NS, 'ambient', 'namespace-default'],
    ['the deprecated annotation is honoured as the label', pod({ annotations: { 'sidecar.istio.io/inject': 'true' } }), AMBIENT_NS, 'sidecar', 'pod-istio-labels'],
    ['the label wins over the annotation', pod({ labels: { 'sidecar.istio.io/inject': 'false' }, annotations: { 'sidecar.istio.io/inject': 'true' } }), AMBIENT_NS, 'ambient', 'namespace-default'],
    // rule 4
    ['sidecar-only-feature: userVolume', pod({ annotations: { 'sidecar.istio.io/userVolume': '[]' } }), AMBIENT_NS, 'sidecar', 'sidecar-only-feature'],
    ['sidecar-only-feature: bootstrapOverride', pod({ annotations: { 'sidecar.istio.io/bootstrapOverride': 'cm' } }), {}, 'sidecar', 'sidecar-only-feature'],
    // rule 5
    ['no-sidecar-for-jobs: Job pod in a sidecar namespace', pod({ owner: 'Job' }), SIDECAR_NS, 'ambient', 'no-sidecar-for-jobs'],
    ['no-sidecar-for-jobs: DaemonSet pod', pod({ owner: 'DaemonSet' }), { 'istio.io/rev': 'stable' }, 'ambient', 'no-sidecar-for-jobs'],
    ['a Job pod in a none namespace stays none', pod({ owner: 'Job' }), { 'meshguard.io/default-mode': 'none' }, 'none', 'namespace-default'],
    ['a ReplicaSet pod in a sidecar namespace', pod({ owner: 'ReplicaSet' }), SIDECAR_NS, 'sidecar', 'namespace-default'],
    ['an explicit sidecar label beats the Job rule', pod({ owner: 'Job', labels: { 'sidecar.istio.io/inject': 'true' } }), SIDECAR_NS, 'sidecar', 'pod-istio-labels'],
    // rule 6
    ['namespace-default: ambient', pod(), AMBIENT_NS, 'ambient', 'namespace-default'],
    ['namespace-default: sidecar', pod(), SIDECAR_NS, 'sidecar', 'namespace-default'],
    ['namespace-default: cluster default', pod(), {}, 'ambient', 'namespace-default'],
  ])('%s', (_name, p, labels, mode, rule) => {
    const decision = decidePodMode(p, ns(labels), policy);
    expect({ mode: decision.mode, rule: decision.rule }).toEqual({ mode, rule });
    expect(decision.findings.filter((f) => f.severity === 'error')).toEqual([]);
  });
});

describe('decidePodMode: denials and warnings', () => {
  it.each([
    ['mode-override-invalid', pod({ annotations: { 'meshguard.io/mode': 'sidecars' } }), {}, 'ambient', /not a mode; use one of ambient, sidecar, none/],
    ['mode-override-forbidden', pod({ annotations: { 'meshguard.io/mode': 'ambient' } }), { ...SIDECAR_NS, 'meshguard.io/allow-mode-override': 'false' }, 'sidecar', /may not choose their mode/],
    ['dataplane-mode-invalid', pod({ labels: { 'istio.io/dataplane-mode': 'sidecar' } }), AMBIENT_NS, 'ambient', /only values are "ambient" and "none".*sidecar\.istio\.io\/inject="true"/],
    ['dataplane-mode-conflict', pod({ labels: { 'istio.io/dataplane-mode': 'ambient', 'sidecar.istio.io/inject': 'true' } }), {}, 'ambient', /both ambient and a sidecar/],
  ])('[%s] is an error, and the signal is skipped', (rule, p, labels, fallbackMode, message) => {
    const decision = decidePodMode(p, ns(labels), policy);
    expect(decision.findings).toHaveLength(1);
    expect(decision.findings[0]).toMatchObject({ rule, severity: 'error' });
    expect(decision.findings[0].message).toMatch(new RegExp(`^\\[${rule}\\] `));
    expect(decision.findings[0].message).toMatch(message);
    expect(decision.mode).toBe(fallbackMode);
  });

  it('the allowed twins differ minimally and have no findings', () => {
    expect(decidePodMode(pod({ annotations: { 'meshguard.io/mode': 'sidecar' } }), ns(), policy).findings).toEqual([]);
    expect(decidePodMode(pod({ labels: { 'istio.io/dataplane-mode': 'none' } }), ns(AMBIENT_NS), policy).findings).toEqual([]);
    expect(decidePodMode(pod({ labels: { 'istio.io/dataplane-mode': 'ambient', 'sidecar.istio.io/inject': 'false' } }), ns(), policy).findings).toEqual([]);
  });

  it('[deprecated-inject-annotation] is a warning', () => {
    const decision = decidePodMode(pod({ annotations: { 'sidecar.istio.io/inject': 'true' } }), ns(), policy);
    expect(decision.findings).toEqual([
      expect.objectContaining({ rule: 'deprecated-inject-annotation', severity: 'warning', path: 'metadata.annotations["sidecar.istio.io/inject"]' }),
    ]);
  });

  it('a rule the policy turns off reports nothing', () => {
    const quiet = { ...policy, rules: { ...policy.rules, 'dataplane-mode-invalid': 'off' as const } };
    expect(decidePodMode(pod({ labels: { 'istio.io/dataplane-mode': 'sidecar' } }), ns(), quiet).findings).toEqual([]);
  });

  it('is total on malformed pods', () => {
    for (const bad of [{}, { metadata: null }, { metadata: { labels: 'x', annotations: [1] } }, { spec: 'x', metadata: { ownerReferences: 'x' } }]) {
      expect(decidePodMode(bad as never, ns(), policy).mode).toBe('ambient');
    }
  });
});
