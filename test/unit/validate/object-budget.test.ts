import { describe, expect, it } from 'vitest';
import { ClusterStore } from '../../../src/cluster/snapshot.js';
import type { KubeObject } from '../../../src/kube.js';
import { loadPolicyFile } from '../../../src/policy/load.js';
import { validateObject, type ValidationInput } from '../../../src/validate/index.js';
import { OBJECT_BUDGET, objectBudgetFinding } from '../../../src/validate/object-budget.js';

const policy = loadPolicyFile();
const snapshot = new ClusterStore();
const validate = (group: string, kind: string, object: KubeObject) =>
  validateObject({ operation: 'CREATE', group, version: 'v1', kind, namespace: 'shop', name: 'hostile', object } satisfies ValidationInput, snapshot, policy);
const authz = (spec: unknown): KubeObject => ({ apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: 'hostile', namespace: 'shop' }, spec });

describe('object budget (issue 7: no rule walks an object of hundreds of thousands of entries)', () => {
  it('an AuthorizationPolicy with 60,000 when entries gets one finding at the largest list, and no rule runs', () => {
    const when = Array.from({ length: 60_000 }, (_, i) => ({ key: 'destination.labels[app]', values: [`v${i}`] }));
    const findings = validate('security.istio.io', 'AuthorizationPolicy', authz({ rules: [{ to: [{ operation: { paths: ['/x'] } }], when }] }));
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ rule: 'object-budget-exceeded', severity: 'error', path: 'spec.rules[0].when' });
    expect(findings[0].message).toMatch(/^\[object-budget-exceeded\] the object has more than 50000 list entries and map keys in all \(README "Object budget"\), spec\.rules\[0\]\.when alone 60000; .*Split it/);
  });

  it('100,000 targetRefs: one finding at spec.targetRefs', () => {
    const targetRefs = Array.from({ length: 100_000 }, (_, i) => ({ kind: 'Nope', group: 'x', name: `t${i}` }));
    expect(validate('security.istio.io', 'AuthorizationPolicy', authz({ targetRefs }))).toEqual([
      expect.objectContaining({ rule: 'object-budget-exceeded', path: 'spec.targetRefs' }),
    ]);
  });

  it('a VirtualService with 60,000 routes is refused by the object budget before the regex and deprecation walks', () => {
    const http = Array.from({ length: 60_000 }, (_, i) => ({ match: [{ uri: { regex: `^/p/${i}/[a-z]+$` } }] }));
    const vs: KubeObject = { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'hostile' }, spec: { hosts: ['r'], http } };
    expect(validate('networking.istio.io', 'VirtualService', vs)).toEqual([expect.objectContaining({ rule: 'object-budget-exceeded', path: 'spec.http' })]);
  });

  it('counts every list entry and map key at any depth: exactly the budget passes, one more does not', () => {
    // 1 (spec) + 1 (list) + n entries
    const object = (n: number) => ({ spec: { list: Array.from({ length: n }, () => 0) } });
    expect(objectBudgetFinding(object(OBJECT_BUDGET.entries - 2), policy)).toBeUndefined();
    expect(objectBudgetFinding(object(OBJECT_BUDGET.entries - 1), policy)).toMatchObject({ rule: 'object-budget-exceeded', path: 'spec.list' });
    const keys = { metadata: { labels: Object.fromEntries(Array.from({ length: OBJECT_BUDGET.entries }, (_, i) => [`k${i}`, 'v'])) } };
    expect(objectBudgetFinding(keys, policy)).toMatchObject({ path: 'metadata.labels' });
  });

  it('a nesting 200,000 deep is counted without recursion', () => {
    let deep: unknown[] = [];
    for (let i = 0; i < 200_000; i++) deep = [deep];
    expect(objectBudgetFinding({ spec: { deep } }, policy)).toMatchObject({ rule: 'object-budget-exceeded' });
  });

  it('a real-sized object passes, and Pods are not counted', () => {
    const when = Array.from({ length: 100 }, (_, i) => ({ key: 'request.headers[x-id]', values: [`v${i}`] }));
    expect(validate('security.istio.io', 'AuthorizationPolicy', authz({ rules: [{ when }] })).map((f) => f.rule)).not.toContain('object-budget-exceeded');
    const labels = Object.fromEntries(Array.from({ length: 60_000 }, (_, i) => [`k${i}`, 'v']));
    const pod: KubeObject = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', labels }, spec: { containers: [{ name: 'c', image: 'i' }] } };
    expect(validate('', 'Pod', pod).map((f) => f.rule)).not.toContain('object-budget-exceeded');
  });

  it('turned off in the policy, the rules walk the object as before', () => {
    const off = { ...policy, rules: { ...policy.rules, 'object-budget-exceeded': 'off' as const } };
    expect(objectBudgetFinding({ list: Array.from({ length: OBJECT_BUDGET.entries + 1 }, () => 0) }, off)).toBeUndefined();
  });
});

describe('the count is made once per object (a validation worker asks before deciding, then the rules ask again)', () => {
  it('the same object gets the same answer each time, and each object its own', () => {
    const over = authz({ targetRefs: Array.from({ length: OBJECT_BUDGET.entries + 1 }, (_, i) => ({ kind: 'Nope', group: 'x', name: `t${i}` })) });
    const within = authz({ targetRefs: [{ kind: 'Nope', group: 'x', name: 't' }] });
    for (let i = 0; i < 2; i++) {
      expect(objectBudgetFinding(over, policy)).toMatchObject({ rule: 'object-budget-exceeded', path: 'spec.targetRefs' });
      expect(objectBudgetFinding(within, policy)).toBeUndefined();
    }
    // An equal object that is another object is counted for itself; a different policy still gets its own severity.
    expect(objectBudgetFinding(structuredClone(over), policy)).toMatchObject({ rule: 'object-budget-exceeded' });
    const warnOnly = { ...policy, rules: { ...policy.rules, 'object-budget-exceeded': 'warning' as const } };
    expect(objectBudgetFinding(over, warnOnly)).toMatchObject({ severity: 'warning' });
  });
});
