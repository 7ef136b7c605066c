import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { parseManifests } from '../../../src/cluster/from-files.js';
import { checkManifests } from '../../../src/check/run.js';
import type { KubeObject } from '../../../src/kube.js';
import { loadPolicyFile } from '../../../src/policy/load.js';
import { allows, ztunnelView } from '../../../src/plan/authz-eval.js';
import { compareMigration, type Destination } from '../../../src/plan/equivalence.js';
import { migrationFor, waypointPrincipal } from '../../../src/plan/migration.js';
import { planNamespaces } from '../../../src/plan/verdict.js';
import { input, istio, ns, pod, service } from './fixtures.js';

const policy = loadPolicyFile();
const ap = (name: string, spec: Record<string, unknown>) => istio('AuthorizationPolicy', 'shop', name, spec);
const on = (app: string) => ({ selector: { matchLabels: { app } } });
const webSa = 'cluster.local/ns/shop/sa/web';

/** shop: web (2 pods), api and db (1 pod each), each behind its own Service. */
const pods = [pod('shop', 'web', 0), pod('shop', 'web', 1), pod('shop', 'api', 0), pod('shop', 'db', 0)];
const base = [ns('shop'), ...pods, service('shop', 'web'), service('shop', 'api'), service('shop', 'db')];

function migrate(policies: KubeObject[]) {
  const objects = [...base, ...policies];
  const inp = input(objects);
  const [plan] = planNamespaces(inp, policy);
  const migration = migrationFor(plan, inp.snapshot, { trustDomain: 'cluster.local' });
  return { plan, migration, snapshot: inp.snapshot };
}

const cases: Array<{ name: string; policies: KubeObject[] }> = [
  { name: 'ALLOW GET on api from web', policies: [ap('api-get', { ...on('api'), rules: [{ from: [{ source: { principals: [webSa] } }], to: [{ operation: { methods: ['GET'] } }] }] })] },
  { name: 'DENY with only L7 (paths)', policies: [ap('no-admin', { ...on('api'), action: 'DENY', rules: [{ to: [{ operation: { paths: ['/admin*'] } }] }] })] },
  {
    name: 'DENY mixing a principal and methods',
    policies: [ap('no-web-post', { ...on('api'), action: 'DENY', rules: [{ from: [{ source: { principals: [webSa] } }], to: [{ operation: { methods: ['POST'], ports: ['8080'] } }] }] })],
  },
  { name: 'namespace-wide ALLOW with L7', policies: [ap('get-only', { rules: [{ to: [{ operation: { methods: ['GET', 'HEAD'] } }] }] })] },
  {
    name: 'L4 ALLOW by principal on web beside an L7 DENY on api',
    policies: [
      ap('web-from-api', { ...on('web'), rules: [{ from: [{ source: { namespaces: ['shop'] } }] }] }),
      ap('api-no-delete', { ...on('api'), action: 'DENY', rules: [{ to: [{ operation: { methods: ['DELETE'] } }] }] }),
    ],
  },
  {
    name: 'DENY by port only stays on ztunnel, beside an L7 ALLOW',
    policies: [
      ap('db-no-9090', { ...on('db'), action: 'DENY', rules: [{ to: [{ operation: { ports: ['9090'] } }] }] }),
      ap('db-get', { ...on('db'), rules: [{ to: [{ operation: { methods: ['GET'] } }] }] }),
    ],
  },
  {
    name: 'JWT principals and negated paths',
    policies: [ap('api-jwt', { ...on('api'), rules: [{ from: [{ source: { requestPrincipals: ['https://issuer/*'] } }], to: [{ operation: { notPaths: ['/internal*'] } }] }] })],
  },
  {
    name: 'two policies on one selector, ALLOW and DENY',
    policies: [
      ap('api-allow', { ...on('api'), rules: [{ from: [{ source: { notNamespaces: ['outside'] } }], to: [{ operation: { methods: ['GET', 'POST'] } }] }] }),
      ap('api-deny', { ...on('api'), action: 'DENY', rules: [{ from: [{ source: { principals: [webSa] } }], to: [{ operation: { methods: ['POST'] } }] }] }),
    ],
  },
];

function destinations(): Destination[] {
  const out: Destination[] = [];
  for (const p of pods)
    for (const port of [8080, 9090]) {
      out.push({ pod: p, service: p.metadata!.labels!.app, port });
      out.push({ pod: p, port });
    }
  return out;
}

describe('migration: the rewritten namespace allows and denies the same requests', () => {
  it.each(cases)('$name', ({ policies }) => {
    const { plan, migration, snapshot } = migrate(policies);
    expect(plan.verdict).toBe('needs-waypoint');
    const rewritten = new Set(plan.rewrites.map((r) => r.name));
    const generated = migration!.manifests.filter((m) => m.kind === 'AuthorizationPolicy');
    const after = [...policies.filter((p) => !rewritten.has(p.metadata!.name!)), ...generated];
    const result = compareMigration({
      before: policies,
      after,
      destinations: destinations(),
      waypoint: 'waypoint',
      waypointPrincipal: waypointPrincipal(snapshot, 'shop', 'waypoint', 'cluster.local'),
      namespace: 'shop',
    });
    expect(result.checked).toBeGreaterThan(50);
    expect(result.mismatches.slice(0, 3)).toEqual([]);
  });

  it('would catch a rewrite that dropped a rule or targeted the wrong workloads', () => {
    const policies = cases[0].policies;
    const { migration, snapshot } = migrate(policies);
    const generated = migration!.manifests.filter((m) => m.kind === 'AuthorizationPolicy');
    const judge = (after: KubeObject[]) =>
      compareMigration({ before: policies, after, destinations: destinations(), waypoint: 'waypoint', waypointPrincipal: waypointPrincipal(snapshot, 'shop', 'waypoint', 'cluster.local'), namespace: 'shop' }).mismatches.length;
    const withoutMethods = generated.map((g) => (g.metadata!.name === 'api-get-waypoint' ? { ...g, spec: { ...g.spec, rules: [{ from: g.spec.rules[0].from }] } } : g));
    expect(judge(withoutMethods)).toBeGreaterThan(0);
    const onWeb = generated.map((g) => (g.metadata!.name === 'api-get-waypoint' ? { ...g, spec: { ...g.spec, targetRefs: [{ kind: 'Service', group: '', name: 'web' }] } } : g));
    expect(judge(onWeb)).toBeGreaterThan(0);
    expect(judge(generated.filter((g) => !g.metadata!.name!.endsWith('-via-waypoint')))).toBeGreaterThan(0);
  });

  it('writes manifests that meshguard check passes, in steps that keep every DENY denying', () => {
    const { migration } = migrate(cases[4].policies);
    const docs = parseManifests(migration!.manifests.map((m) => stringify(m)).join('---\n'), 'plan.yaml');
    const report = checkManifests(docs, policy);
    expect(report.findings).toEqual([]);
    expect(migration!.manifests.map((m) => `${m.kind}/${m.metadata!.name}`)).toEqual([
      'Gateway/waypoint',
      'AuthorizationPolicy/api-no-delete-waypoint',
      'AuthorizationPolicy/web-from-api-waypoint',
      'AuthorizationPolicy/web-from-api-via-waypoint',
      'Namespace/shop',
      'AuthorizationPolicy/api-no-delete-via-waypoint',
    ]);
    expect(migration!.steps.map((s) => s.title)).toEqual([
      'Create the waypoint',
      'Apply the policies rewritten for the waypoint',
      'Admit the waypoint where an ALLOW policy already applies',
      'Label the namespace',
      'Admit only the waypoint where only DENY policies moved',
      'Restart the workloads',
      'Delete the original policies',
    ]);
    const label = migration!.steps[3].commands[0];
    expect(label).toBe('kubectl label namespace shop istio.io/dataplane-mode=ambient istio.io/use-waypoint=waypoint istio-injection- --overwrite');
    expect(migration!.steps[5].commands).toEqual([
      'kubectl rollout restart deployment/api -n shop   # 1 pod',
      'kubectl rollout restart deployment/db -n shop   # 1 pod',
      'kubectl rollout restart deployment/web -n shop   # 2 pods',
    ]);
    const rewritten = migration!.manifests[1];
    expect(rewritten.spec).toEqual({
      targetRefs: [{ kind: 'Service', group: '', name: 'api' }],
      action: 'DENY',
      rules: [{ to: [{ operation: { methods: ['DELETE'] } }] }],
    });
  });

  it('a ready namespace only changes labels and restarts', () => {
    const { migration } = migrate([]);
    expect(migration!.steps.map((s) => s.title)).toEqual(['Label the namespace', 'Restart the workloads']);
  });
});

describe('authz evaluator and ztunnelView (ztunnelRules: authorization.go handleRule, Istio 1.31)', () => {
  const req = { principal: webSa, namespace: 'shop', port: 8080, method: 'POST', path: '/admin/x' };
  it.each([
    ['no policy allows', [], true],
    ['ALLOW with no rules denies all', [ap('a', {})], false],
    ['ALLOW rules: [{}] allows all', [ap('a', { rules: [{}] })], true],
    ['DENY beats ALLOW', [ap('a', { rules: [{}] }), ap('d', { action: 'DENY', rules: [{ to: [{ operation: { paths: ['/admin/*'] } }] }] })], false],
    ['notMethods', [ap('a', { rules: [{ to: [{ operation: { notMethods: ['POST'] } }] }] })], false],
    ['header condition', [ap('a', { rules: [{ when: [{ key: 'request.headers[x-user]', values: ['bob'] }] }] })], false],
    ['serviceAccounts relative to the policy namespace', [ap('a', { rules: [{ from: [{ source: { serviceAccounts: ['web'] } }] }] })], true],
    ['ipBlocks CIDR', [ap('a', { rules: [{ from: [{ source: { ipBlocks: ['10.1.0.0/16'] } }] }] })], true],
  ] as const)('%s', (_n, policies, expected) => {
    expect(allows([...policies], { ...req, ip: '10.1.2.3' })).toBe(expected);
  });

  it('drops ALLOW rules with L7 attributes, keeps their L4 siblings', () => {
    const view = ztunnelView(ap('a', { rules: [{ to: [{ operation: { methods: ['GET'] } }] }, { from: [{ source: { namespaces: ['shop'] } }] }] }));
    expect(view.spec.rules).toEqual([{ from: [{ source: { namespaces: ['shop'] } }] }]);
  });

  it('a DENY rule emptied by dropping L7 is a no-op; a partly L7 one keeps its L4 part', () => {
    const onlyL7 = ztunnelView(ap('d', { action: 'DENY', rules: [{ to: [{ operation: { paths: ['/admin'] } }] }] }));
    expect(onlyL7.spec.rules).toEqual([]);
    const mixed = ztunnelView(ap('d', { action: 'DENY', rules: [{ to: [{ operation: { methods: ['POST'], ports: ['8080'] } }] }] }));
    expect(mixed.spec.rules).toEqual([{ to: [{ operation: { ports: ['8080'] } }] }]);
    const when = ztunnelView(ap('d', { action: 'DENY', rules: [{ from: [{ source: { namespaces: ['x'] } }], when: [{ key: 'request.headers[a]', values: ['b'] }] }] }));
    expect(when.spec.rules).toEqual([]);
    // trustDomains vanish for ztunnel (1.31): the rest of the match stays; a match of only them is skipped.
    const td = ztunnelView(ap('d', { action: 'DENY', rules: [{ from: [{ source: { trustDomains: ['other.example'], namespaces: ['x'] } }, { source: { trustDomains: ['t'] } }] }] }));
    expect(td.spec.rules).toEqual([{ from: [{ source: { namespaces: ['x'] } }] }]);
  });
});

describe('re-planning a namespace mid-migration', () => {
  it('after the waypoint, the rewrites and the labels are applied, the namespace is ready: restart, then delete the originals', () => {
    const policies = cases[4].policies;
    const first = migrate(policies);
    const applied = first.migration!.manifests.filter((m) => m.kind !== 'Namespace');
    const labelled = ns('shop', first.plan.labelsAfter);
    const objects = [labelled, ...pods, service('shop', 'web'), service('shop', 'api'), service('shop', 'db'), ...policies, ...applied];
    const inp = input(objects);
    const [plan] = planNamespaces(inp, policy);
    expect(plan.verdict).toBe('ready');
    expect(plan.reasons.every((r) => r.effect === 'note')).toBe(true);
    const migration = migrationFor(plan, inp.snapshot, { trustDomain: 'cluster.local' })!;
    expect(migration.manifests).toEqual([]);
    expect(migration.steps.map((s) => s.title)).toEqual(['Restart the workloads', 'Delete the original policies']);
    expect(migration.steps[1].commands).toEqual(['kubectl delete authorizationpolicy api-no-delete -n shop', 'kubectl delete authorizationpolicy web-from-api -n shop']);
  });

  it('a rewrite applied without the namespace label is not done yet', () => {
    const policies = cases[4].policies;
    const first = migrate(policies);
    const inp = input([...base, ...policies, ...first.migration!.manifests.filter((m) => m.kind !== 'Namespace')]);
    expect(planNamespaces(inp, policy)[0].verdict).toBe('needs-waypoint');
  });
});
