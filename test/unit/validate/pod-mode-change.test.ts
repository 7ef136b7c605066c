import { describe, expect, it } from 'vitest';
import { ClusterStore } from '../../../src/cluster/snapshot.js';
import type { KubeObject } from '../../../src/kube.js';
import type { ValidationInput } from '../../../src/validate/index.js';
import { validateObject } from '../../../src/validate/index.js';
import { validatePodModeChange } from '../../../src/validate/pod-mode-change.js';
import { namespace, pod, policy } from '../../helpers/objects.js';

const snapshot = new ClusterStore([
  namespace('open', { 'istio.io/dataplane-mode': 'ambient' }),
  namespace('locked', { 'istio.io/dataplane-mode': 'ambient', 'meshguard.io/allow-mode-override': 'false' }),
]);
const ctx = { snapshot, policy };

// What meshguard leaves on a pod it put in ambient mode at CREATE.
const AMBIENT = { 'istio.io/dataplane-mode': 'ambient', 'sidecar.istio.io/inject': 'false' };
const admitted = (labels: Record<string, string> = AMBIENT, annotations: Record<string, string> = { 'meshguard.io/decision': 'ambient/namespace-default' }) =>
  pod({ labels: { app: 'web', ...labels }, annotations });
const relabelled = (before: KubeObject, labels: Record<string, string | undefined>, annotations: Record<string, string | undefined> = {}) => {
  const after = structuredClone(before);
  const apply = (map: Record<string, string>, changes: Record<string, string | undefined>) => {
    for (const [k, v] of Object.entries(changes)) if (v === undefined) delete map[k]; else map[k] = v;
  };
  apply((after.metadata!.labels ??= {}), labels);
  apply((after.metadata!.annotations ??= {}), annotations);
  return after;
};
const update = (ns: string, oldObject: KubeObject, object: KubeObject, operation: ValidationInput['operation'] = 'UPDATE'): ValidationInput =>
  ({ operation, group: '', version: 'v1', kind: 'Pod', namespace: ns, name: 'web-1', object, oldObject });
const rules = (input: ValidationInput) => validatePodModeChange(input, ctx).map((f) => `${f.rule} ${f.path}`);

describe('validatePodModeChange: pod UPDATEs judged by the mode rules', () => {
  const old = admitted();
  it.each([
    // [name, namespace, labels changed, annotations changed, findings]
    ['leaving ambient where overrides are forbidden (issue 7.9)', 'locked', { 'istio.io/dataplane-mode': 'none' }, {}, ['mode-override-forbidden metadata.labels["istio.io/dataplane-mode"]']],
    ['removing the mode label where overrides are forbidden', 'locked', { 'istio.io/dataplane-mode': undefined }, {}, ['mode-override-forbidden metadata.labels["istio.io/dataplane-mode"]']],
    ['asking for a sidecar where overrides are forbidden', 'locked', { 'sidecar.istio.io/inject': 'true', 'istio.io/dataplane-mode': 'none' }, {}, ['mode-override-forbidden metadata.labels["istio.io/dataplane-mode"]', 'mode-override-forbidden metadata.labels["sidecar.istio.io/inject"]']],
    ['the override annotation where overrides are forbidden', 'locked', {}, { 'meshguard.io/mode': 'none' }, ['mode-override-forbidden metadata.annotations["meshguard.io/mode"]']],
    ['an invalid dataplane mode', 'open', { 'istio.io/dataplane-mode': 'sidecar' }, {}, ['dataplane-mode-invalid metadata.labels["istio.io/dataplane-mode"]']],
    ['ambient and a sidecar at once', 'open', { 'sidecar.istio.io/inject': 'true' }, {}, ['dataplane-mode-conflict metadata.labels["istio.io/dataplane-mode"]']],
    ['an invalid override', 'open', {}, { 'meshguard.io/mode': 'sidecars' }, ['mode-override-invalid metadata.annotations["meshguard.io/mode"]']],
    ['the deprecated inject annotation (a warning, as at CREATE)', 'open', { 'sidecar.istio.io/inject': undefined }, { 'sidecar.istio.io/inject': 'false' }, ['deprecated-inject-annotation metadata.annotations["sidecar.istio.io/inject"]']],
    ['a forged decision', 'open', {}, { 'meshguard.io/decision': 'none/pod-override' }, ['decision-annotation-reserved metadata.annotations["meshguard.io/decision"]']],
    ['a removed decision', 'locked', {}, { 'meshguard.io/decision': undefined }, ['decision-annotation-reserved metadata.annotations["meshguard.io/decision"]']],
  ])('denied: %s', (_name, ns, labels, annotations, want) => {
    expect(rules(update(ns, old, relabelled(old, labels, annotations)))).toEqual(want);
  });

  it.each([
    ['leaving ambient where overrides are allowed: the same rules as a CREATE with that label', 'open', { 'istio.io/dataplane-mode': 'none' }, {}],
    ['an override where overrides are allowed', 'open', {}, { 'meshguard.io/mode': 'none' }],
    ['other labels, where overrides are forbidden', 'locked', { app: 'api', version: 'v2' }, { 'prometheus.io/scrape': 'true' }],
    ['the same mode labels written again', 'locked', { ...AMBIENT }, { 'meshguard.io/decision': 'ambient/namespace-default' }],
  ])('allowed: %s', (_name, ns, labels, annotations) => {
    expect(rules(update(ns, old, relabelled(old, labels, annotations)))).toEqual([]);
  });

  it('a pod admitted without meshguard\'s labels (meshguard was down) cannot label itself where overrides are forbidden', () => {
    const bare = admitted({}, {});
    expect(rules(update('locked', bare, relabelled(bare, { 'istio.io/dataplane-mode': 'none' })))).toEqual(['mode-override-forbidden metadata.labels["istio.io/dataplane-mode"]']);
    expect(rules(update('open', bare, relabelled(bare, { 'istio.io/dataplane-mode': 'none' })))).toEqual([]);
  });

  it('says what changed, why it matters and how to undo it', () => {
    const [f] = validatePodModeChange(update('locked', old, relabelled(old, { 'istio.io/dataplane-mode': 'none' })), ctx);
    expect(f.severity).toBe('error');
    expect(f.message).toBe(
      '[mode-override-forbidden] this namespace sets meshguard.io/allow-mode-override=false, so a pod\'s mode labels are fixed when it is admitted; ' +
        'this update changes istio.io/dataplane-mode from "ambient" to "none", and istio-cni follows label changes on running pods (the pod would leave the mode meshguard decided). ' +
        'Keep the label as it was (kubectl label pod web-1 istio.io/dataplane-mode=ambient --overwrite).',
    );
    const [d] = validatePodModeChange(update('open', old, relabelled(old, {}, { 'meshguard.io/decision': 'none/pod-override' })), ctx);
    expect(d.message).toBe(
      '[decision-annotation-reserved] meshguard.io/decision is meshguard\'s record of the mode it decided when the pod was created, and only meshguard writes it; ' +
        'this update changes it from "ambient/namespace-default" to "none/pod-override". ' +
        'Keep it as it was (kubectl annotate pod web-1 meshguard.io/decision=ambient/namespace-default --overwrite), and leave it out of the manifests you apply.',
    );
  });

  it('bounds what it copies from the pod into a message', () => {
    const huge = 'x'.repeat(100_000);
    const before = admitted({ ...AMBIENT, 'istio.io/dataplane-mode': huge }, { 'meshguard.io/decision': huge });
    const after = relabelled(before, { 'istio.io/dataplane-mode': `${huge}y` }, { 'meshguard.io/decision': `${huge}\u2028y` });
    const findings = validatePodModeChange({ ...update('locked', before, after), name: huge }, ctx);
    expect(findings.map((f) => f.rule)).toEqual(['decision-annotation-reserved', 'dataplane-mode-invalid', 'mode-override-forbidden']);
    for (const f of findings) {
      expect(f.message.length, f.rule).toBeLessThan(2_000);
      expect(f.message).not.toMatch(/\u2028/);
    }
  });

  it('looks at UPDATEs of Pods only', () => {
    const changed = relabelled(old, { 'istio.io/dataplane-mode': 'none' });
    expect(rules(update('locked', old, changed, 'CREATE'))).toEqual([]);
    expect(rules({ ...update('locked', old, changed), kind: 'Service' })).toEqual([]);
    expect(rules({ ...update('locked', old, changed), oldObject: undefined })).toEqual([]);
  });

  it('runs in the validating dispatch, with the policy\'s severities', () => {
    const input = update('locked', old, relabelled(old, { 'istio.io/dataplane-mode': 'none' }));
    expect(validateObject(input, snapshot, policy).map((f) => f.rule)).toEqual(['mode-override-forbidden']);
    const relaxed = { ...policy, rules: { ...policy.rules, 'mode-override-forbidden': 'warning' as const } };
    expect(validateObject(input, snapshot, relaxed).map((f) => f.severity)).toEqual(['warning']);
    const off = { ...policy, rules: { ...policy.rules, 'mode-override-forbidden': 'off' as const } };
    expect(validateObject(input, snapshot, off)).toEqual([]);
  });
});
