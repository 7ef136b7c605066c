import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ClusterStore } from '../../../src/cluster/snapshot.js';
import type { KubeObject } from '../../../src/kube.js';
import { loadPolicyFile } from '../../../src/policy/load.js';
import type { ValidationInput } from '../../../src/validate/index.js';
import { validateNamespaceLabels } from '../../../src/validate/namespace-labels.js';

const policy = loadPolicyFile();
const ctx = { snapshot: new ClusterStore(), policy };

const namespace = (labels: Record<string, string>): KubeObject => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop', labels } });

const validate = (object: unknown, operation: ValidationInput['operation'] = 'CREATE', kind = 'Namespace') =>
  validateNamespaceLabels({ operation, group: '', version: 'v1', kind, name: 'shop', object: object as KubeObject }, ctx);

describe('validateNamespaceLabels', () => {
  // istio/api label/labels.yaml: istio.io/dataplane-mode is ambient or none, nothing else.
  it.each([
    ['sidecar (a popular mistake)', { 'istio.io/dataplane-mode': 'sidecar' }, { 'istio.io/dataplane-mode': 'ambient' }],
    ['Ambient with a capital A', { 'istio.io/dataplane-mode': 'Ambient' }, { 'istio.io/dataplane-mode': 'ambient' }],
    ['empty', { 'istio.io/dataplane-mode': '' }, { 'istio.io/dataplane-mode': 'none' }],
  ])('dataplane-mode-invalid: %s', (_name, denied, allowed) => {
    const findings = validate(namespace(denied));
    expect(findings).toEqual([
      expect.objectContaining({ rule: 'dataplane-mode-invalid', severity: 'error', path: 'metadata.labels["istio.io/dataplane-mode"]' }),
    ]);
    expect(findings[0].message).toMatch(/^\[dataplane-mode-invalid\] istio\.io\/dataplane-mode=".*" is not valid; its only values are "ambient" and "none"/);
    expect(findings[0].message).toContain('istio-injection=enabled');
    expect(validate(namespace(allowed))).toEqual([]);
  });

  // istioctl analyze IST0123 NamespaceMultipleInjectionLabels
  // (pkg/config/analysis/analyzers/injection/injection.go).
  it.each([
    ['with dataplane-mode', { 'istio-injection': 'enabled', 'istio.io/dataplane-mode': 'ambient' }, { 'istio.io/dataplane-mode': 'ambient' }, 'istio.io/dataplane-mode=ambient'],
    ['with rev', { 'istio-injection': 'enabled', 'istio.io/rev': 'canary' }, { 'istio.io/rev': 'canary' }, 'istio.io/rev=canary'],
    ['with both', { 'istio-injection': 'enabled', 'istio.io/rev': 'canary', 'istio.io/dataplane-mode': 'none' }, { 'istio-injection': 'enabled' }, 'istio.io/rev=canary and istio.io/dataplane-mode=none'],
    ['disabled is not a conflict', null, { 'istio-injection': 'disabled', 'istio.io/dataplane-mode': 'ambient' }, ''],
    ['disabled is not a conflict with rev either', null, { 'istio-injection': 'disabled', 'istio.io/rev': 'canary', 'istio.io/dataplane-mode': 'ambient' }, ''],
  ])('namespace-multiple-injection-labels: istio-injection=enabled %s', (_name, denied, allowed, listed) => {
    if (denied) {
      const findings = validate(namespace(denied));
      expect(findings).toEqual([
        expect.objectContaining({ rule: 'namespace-multiple-injection-labels', severity: 'warning', path: 'metadata.labels["istio-injection"]' }),
      ]);
      expect(findings[0].message).toContain(`istio-injection=enabled together with ${listed}`);
      expect(findings[0].message).toContain('IST0123');
      expect(findings[0].message).toContain('Keep one: remove istio-injection (kubectl label namespace shop istio-injection-) or the others (kubectl label namespace shop istio.io/');
    }
    expect(validate(namespace(allowed))).toEqual([]);
  });

  // Without istio-injection, istio.io/rev and istio.io/dataplane-mode are both listed (injection.go).
  it('namespace-multiple-injection-labels: istio.io/rev with dataplane-mode and no istio-injection', () => {
    const findings = validate(namespace({ 'istio.io/rev': 'canary', 'istio.io/dataplane-mode': 'ambient' }));
    expect(findings).toEqual([
      expect.objectContaining({ rule: 'namespace-multiple-injection-labels', severity: 'warning', path: 'metadata.labels["istio.io/rev"]' }),
    ]);
    expect(findings[0].message).toBe(
      '[namespace-multiple-injection-labels] istio.io/rev=canary together with istio.io/dataplane-mode=ambient gives the namespace conflicting injection labels ' +
        '(istioctl analyze IST0123 NamespaceMultipleInjectionLabels); the injector of revision "canary" selects the namespace by istio.io/rev and ignores ' +
        'istio.io/dataplane-mode, so pods get sidecars (and istio-cni does not capture pods that have one). ' +
        'Keep one: remove istio.io/rev (kubectl label namespace shop istio.io/rev-) or the others (kubectl label namespace shop istio.io/dataplane-mode-).',
    );
    expect(validate(namespace({ 'istio.io/dataplane-mode': 'ambient' }))).toEqual([]);
    expect(validate(namespace({ 'istio.io/rev': 'canary' }))).toEqual([]);
  });

  it('leaves istio-system to istiod, as istioctl analyze does', () => {
    const labels = { 'istio.io/rev': 'canary', 'istio.io/dataplane-mode': 'ambient' };
    expect(validate({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'istio-system', labels } })).toEqual([]);
  });

  it('reports both rules when both apply', () => {
    expect(validate(namespace({ 'istio-injection': 'enabled', 'istio.io/dataplane-mode': 'sidecar' })).map((f) => f.rule)).toEqual([
      'dataplane-mode-invalid',
      'namespace-multiple-injection-labels',
    ]);
  });

  it.each([
    ['UPDATE', 1],
    ['DELETE', 0],
  ] as const)('on %s', (operation, count) => {
    expect(validate(namespace({ 'istio.io/dataplane-mode': 'sidecar' }), operation)).toHaveLength(count);
  });

  it('leaves other kinds to their own rules (pods: the mutation)', () => {
    expect(validate({ kind: 'Pod', metadata: { labels: { 'istio.io/dataplane-mode': 'sidecar' } } }, 'CREATE', 'Pod')).toEqual([]);
  });

  it.each([
    ['no object', undefined],
    ['labels is a list', { kind: 'Namespace', metadata: { labels: ['istio-injection'] } }],
    ['label values are not strings', { kind: 'Namespace', metadata: { labels: { 'istio.io/dataplane-mode': 7, 'istio-injection': true } } }],
    ['metadata is null', { kind: 'Namespace', metadata: null }],
  ])('never throws: %s', (_name, object) => {
    expect(validate(object)).toEqual([]);
  });
});

describe('validateNamespaceLabels on arbitrary input', () => {
  it('never throws, and flags dataplane-mode exactly when it is a string other than ambient or none', () => {
    const label = fc.oneof(fc.constantFrom('ambient', 'none', 'sidecar', 'enabled', ''), fc.jsonValue({ maxDepth: 1 }));
    fc.assert(
      fc.property(fc.record({ 'istio.io/dataplane-mode': label, 'istio-injection': label, 'istio.io/rev': label }, { requiredKeys: [] }), (labels) => {
        const mode = labels['istio.io/dataplane-mode'];
        const invalid = typeof mode === 'string' && mode !== 'ambient' && mode !== 'none';
        const found = validate({ kind: 'Namespace', metadata: { name: 'shop', labels } }).map((f) => f.rule);
        expect(found.includes('dataplane-mode-invalid')).toBe(invalid);
      }),
      { numRuns: 500 },
    );
  });
});
