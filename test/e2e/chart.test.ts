import { spawnSync } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { auditReadsSnapshot } from '../../src/cluster-audit/trim.js';
import { REPORT_API } from '../../src/cluster-audit/report-objects.js';
import { WRITER_VERBS } from '../../src/cluster/report-writer.js';
import { RESOURCES } from '../../src/cluster/resources.js';
import { SNAPSHOT_GROUPS, SNAPSHOT_KINDS } from '../../src/cluster/snapshot.js';
import { loadPolicyFile, parsePolicy } from '../../src/policy/load.js';
import { VALIDATED_KINDS } from '../../src/validate/index.js';
import { podCheckKeys } from '../../src/validate/pod-checks.js';
import { MODE_ANNOTATION_KEYS, MODE_LABEL_KEYS } from '../../src/validate/pod-mode-change.js';
import { e2eBinaries } from './binaries.js';
import { apiRequest, startControlPlane, type ControlPlane } from './control-plane.js';

// The Helm chart, rendered by a real helm (helm lint, helm template) and installed into a real
// kube-apiserver 1.34 (no controllers, no meshguard pods): what the API server accepts, and how its
// admission chain treats requests while meshguard is unreachable, is the chart's real contract.

const CHART = fileURLToPath(new URL('../../charts/meshguard', import.meta.url));
const NS = 'meshguard-system';
const CHART_META = parse(readFileSync(join(CHART, 'Chart.yaml'), 'utf8'));
const ISTIO_INJECTORS = ['istio-revision-tag-default', 'istio-sidecar-injector'];
const ALWAYS_EXCLUDED = ['kube-system', 'kube-public', 'kube-node-lease', 'istio-system', NS];
/** The entry for AuthorizationPolicies in Istio's root namespace, which the others exclude. */
const ROOT_POLICIES = 'root-policies.validate.meshguard.io';

let helm: string;
beforeAll(async () => {
  helm = (await e2eBinaries()).helm;
});

function runHelm(args: string[], env: NodeJS.ProcessEnv = {}) {
  const run = spawnSync(helm, args, { encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 16 * 1024 * 1024 });
  if (run.error) throw run.error;
  return { ok: run.status === 0, stdout: run.stdout, stderr: run.stderr };
}

/**
 * `helm template` of the chart as objects. Values go in with --set, or with --set-string when they
 * start with `=`, or with --set-file when they start with `@`.
 */
function render(set: Record<string, string> = {}): any[] {
  const args = ['template', 'meshguard', CHART, '--namespace', NS];
  for (const [key, value] of Object.entries(set)) {
    if (value.startsWith('=')) args.push('--set-string', `${key}${value}`);
    else if (value.startsWith('@')) args.push('--set-file', `${key}=${value.slice(1)}`);
    else args.push('--set', `${key}=${value}`);
  }
  const out = runHelm(args);
  if (!out.ok) throw new Error(`helm template failed:\n${out.stderr}`);
  return parseAllDocuments(out.stdout)
    .map((d) => d.toJS())
    .filter((o) => o !== null);
}

const only = (objects: any[], kind: string) => {
  const found = objects.filter((o) => o.kind === kind);
  expect(found, `exactly one ${kind}`).toHaveLength(1);
  return found[0];
};
const mutating = (objects: any[]) => only(objects, 'MutatingWebhookConfiguration');
const validating = (objects: any[]) => only(objects, 'ValidatingWebhookConfiguration');
const allWebhooks = (objects: any[]): any[] => [...mutating(objects).webhooks, ...validating(objects).webhooks];
const webhook = (objects: any[], name: string) => {
  const found = allWebhooks(objects).find((w) => w.name === name);
  expect(found, `webhook ${name}`).toBeDefined();
  return found;
};

/** The English plural Kubernetes uses for these kinds' resources. */
const resourceOf = (kind: string) =>
  kind.toLowerCase().replace(/([^aeiou])y$/, '$1ie').replace(/s$/, 'se') + 's';

/** The labels and annotations whose presence sends a Pod CREATE to pods.validate.meshguard.io. */
function podKeysOf(objects: any[]) {
  const [c, ...rest] = webhook(objects, 'pods.validate.meshguard.io').matchConditions;
  expect(rest).toEqual([]);
  expect(c.expression).toMatch(/^request\.operation != 'CREATE' \|\|/);
  const keys = { labels: [] as string[], annotations: [] as string[] };
  for (const [, field, list] of c.expression.matchAll(/\(has\(object\.metadata\.(\w+)\) && (\[[^\]]*\])\.exists\(k, k in object\.metadata\.\1\)\)/g))
    keys[field as 'labels' | 'annotations'] = JSON.parse(list);
  return keys;
}

/**
 * (group, resource) -> operations over every rule of the webhooks, with scope. A resource may be split
 * over webhooks by operation (Pods: CREATE and UPDATE differ in failure policy), never sent twice.
 */
function ruleTable(webhooks: any[]) {
  const table = new Map<string, { operations: Set<string>; versions: Set<string>; scope: string; webhook: string }>();
  for (const w of webhooks) {
    for (const r of w.rules) {
      for (const group of r.apiGroups) {
        for (const resource of r.resources) {
          const key = `${group}/${resource}`;
          const seen = table.get(key);
          for (const op of r.operations) expect(seen?.operations.has(op) ?? false, `${key} ${op} in one webhook only`).toBe(false);
          table.set(key, {
            operations: new Set([...(seen?.operations ?? []), ...r.operations]),
            versions: new Set([...(seen?.versions ?? []), ...r.apiVersions]),
            scope: r.scope,
            webhook: seen ? `${seen.webhook}, ${w.name}` : w.name,
          });
        }
      }
    }
  }
  return table;
}

function selectorExpressions(w: any): any[] {
  return w.namespaceSelector?.matchExpressions ?? [];
}

describe('helm lint', () => {
  it.each([
    ['defaults', []],
    ['cert-manager', ['--set', 'tls.mode=cert-manager']],
    ['opt-out', ['--set', 'webhook.namespaceSelection=opt-out']],
    ['everything on', ['--set', 'metrics.serviceMonitor.enabled=true,metrics.dashboard.enabled=true', '--set-string', 'policy=clusterDefaultMode: ambient']],
  ])('%s: passes helm lint --strict', (_name, args) => {
    const out = runHelm(['lint', '--strict', CHART, '--namespace', NS, ...args]);
    expect(out.stdout + out.stderr).toContain('0 chart(s) failed');
    expect(out.ok).toBe(true);
  });
});

describe('helm template, default values', () => {
  let objects: any[];
  beforeAll(() => {
    objects = render();
  });

  it('renders the expected objects and nothing optional', () => {
    const kinds = objects.map((o) => o.kind).sort();
    expect(kinds).toEqual(
      [
        'ClusterRole',
        'ClusterRoleBinding',
        'Deployment',
        'MutatingWebhookConfiguration',
        'PodDisruptionBudget',
        'Secret',
        'Service',
        'ServiceAccount',
        'ValidatingWebhookConfiguration',
      ].sort(),
    );
    for (const o of objects.filter((o) => !o.kind.startsWith('Cluster') && !o.kind.endsWith('WebhookConfiguration'))) {
      expect(o.metadata.namespace, `${o.kind} namespace`).toBe(NS);
    }
  });

  it('names the mutating configuration so kube-apiserver runs it before Istio sidecar injection', () => {
    const name: string = mutating(objects).metadata.name;
    expect(name).toBe('00-meshguard-pod-mode');
    // kube-apiserver sorts configurations by name with Go's byte-wise string order; for these ASCII
    // names JavaScript's default sort is the same order.
    for (const istio of ISTIO_INJECTORS) expect(name < istio, `${name} < ${istio}`).toBe(true);
    expect([...ISTIO_INJECTORS, name].sort()[0]).toBe(name);
  });

  it('mutates pods at CREATE, failing open, reinvoked if later webhooks change the pod', () => {
    const [w, ...rest] = mutating(objects).webhooks;
    expect(rest).toEqual([]);
    expect(w.name).toBe('pod-mode.meshguard.io');
    expect(w.failurePolicy).toBe('Ignore');
    expect(w.reinvocationPolicy).toBe('IfNeeded');
    expect(w.timeoutSeconds).toBe(3);
    expect(w.clientConfig.service.path).toBe('/mutate');
    expect(w.rules).toEqual([{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'], scope: 'Namespaced' }]);
  });

  it('validates every kind meshguard validates, with the right operations', () => {
    const table = ruleTable(validating(objects).webhooks.filter((w: any) => w.name !== ROOT_POLICIES));
    const expected: Record<string, { operations: string[]; versions: string[] }> = {};
    for (const [group, kinds] of Object.entries(VALIDATED_KINDS)) {
      for (const kind of kinds) {
        const versions = group === 'security.istio.io' ? ['v1', 'v1beta1']
          : group === 'networking.istio.io' ? ['v1', 'v1beta1', 'v1alpha3']
          : group === 'gateway.networking.k8s.io' ? ['v1', 'v1beta1']
          : ['v1'];
        const operations = group === 'gateway.networking.k8s.io' ? ['CREATE', 'UPDATE', 'DELETE']
          // A Pod CREATE gets its pod checks in the mutating call (meshguard.podChecksAt).
          : kind === 'Pod' ? ['UPDATE']
          : ['CREATE', 'UPDATE'];
        expected[`${group}/${resourceOf(kind)}`] = { operations, versions };
      }
    }
    expect([...table.keys()].sort()).toEqual(Object.keys(expected).sort());
    for (const [key, want] of Object.entries(expected)) {
      const got = table.get(key)!;
      expect([...got.operations].sort(), `${key} operations`).toEqual([...want.operations].sort());
      expect([...got.versions].sort(), `${key} versions`).toEqual([...want.versions].sort());
    }
    // Cluster-scoped kinds have their own entries: a namespaceSelector means something else there.
    expect(table.get('/namespaces')).toMatchObject({ scope: 'Cluster', webhook: 'namespaces.validate.meshguard.io' });
    expect(table.get('gateway.networking.k8s.io/gatewayclasses')).toMatchObject({ scope: 'Cluster', webhook: 'gatewayclasses.validate.meshguard.io' });
    for (const [key, rule] of table) {
      if (!key.endsWith('/namespaces') && !key.endsWith('/gatewayclasses')) expect(rule.scope, key).toBe('Namespaced');
    }
  });

  it('fails closed on validation, except for pod creation, which never blocks on meshguard', () => {
    for (const w of validating(objects).webhooks) {
      expect(w.failurePolicy, w.name).toBe(w.name === 'pods.validate.meshguard.io' ? 'Ignore' : 'Fail');
      expect(w.timeoutSeconds, w.name).toBe(5);
      expect(w.clientConfig.service.path, w.name).toBe('/validate');
    }
  });

  it('sets the common webhook fields on every webhook', () => {
    const service = only(objects, 'Service');
    for (const w of allWebhooks(objects)) {
      expect(w.name, 'a fully qualified name').toMatch(/^[a-z0-9-]+(\.[a-z0-9-]+)*\.meshguard\.io$/);
      expect(w.sideEffects, w.name).toBe('None');
      expect(w.admissionReviewVersions, w.name).toEqual(['v1']);
      expect(w.matchPolicy, w.name).toBe('Equivalent');
      expect(w.clientConfig.service).toMatchObject({ name: service.metadata.name, namespace: NS, port: 443 });
    }
  });

  it('leaves system namespaces, its own and opted-out ones alone, and selects only opted-in ones (opt-in)', () => {
    for (const w of allWebhooks(objects)) {
      if (w.name === 'gatewayclasses.validate.meshguard.io') {
        expect(w.namespaceSelector, 'no namespaceSelector on a cluster-scoped kind').toBeUndefined();
        continue;
      }
      if (w.name === ROOT_POLICIES) continue;
      const exprs = selectorExpressions(w);
      const names = exprs.find((e) => e.key === 'kubernetes.io/metadata.name');
      expect(names.operator, w.name).toBe('NotIn');
      expect([...names.values].sort(), w.name).toEqual([...ALWAYS_EXCLUDED].sort());
      expect(exprs, w.name).toContainEqual({ key: 'meshguard.io/enforcement', operator: 'NotIn', values: ['off'] });
      expect(exprs, w.name).toContainEqual({ key: 'meshguard.io/enforcement', operator: 'Exists' });
      expect(exprs, w.name).toHaveLength(3);
      expect(w.namespaceSelector.matchLabels, w.name).toBeUndefined();
    }
  });

  it("sends AuthorizationPolicies in Istio's root namespace, and nothing else from it, to /validate", () => {
    const w = webhook(objects, ROOT_POLICIES);
    expect(w.rules).toEqual([{ apiGroups: ['security.istio.io'], apiVersions: ['v1', 'v1beta1'], operations: ['CREATE', 'UPDATE'], resources: ['authorizationpolicies'], scope: 'Namespaced' }]);
    expect(w.namespaceSelector.matchExpressions).toEqual([
      { key: 'kubernetes.io/metadata.name', operator: 'In', values: ['istio-system'] },
      { key: 'meshguard.io/enforcement', operator: 'NotIn', values: ['off'] },
    ]);
    expect(w).toMatchObject({ failurePolicy: 'Fail', timeoutSeconds: 5 });
    const custom = render({ 'webhook.rootNamespace': 'mesh-root' });
    expect(webhook(custom, ROOT_POLICIES).namespaceSelector.matchExpressions[0]).toEqual({ key: 'kubernetes.io/metadata.name', operator: 'In', values: ['mesh-root'] });
  });

  it('skips updates that cannot change the answer, with CEL guarded for absent fields and null objects', () => {
    const conditions = (name: string): any[] => webhook(objects, name).matchConditions ?? [];
    for (const name of ['services.validate.meshguard.io', 'namespaces.validate.meshguard.io']) {
      const [c, ...rest] = conditions(name);
      expect(rest).toEqual([]);
      expect(c.expression.replace(/\s+/g, ' ')).toBe(
        "request.operation != 'UPDATE' || (has(object.metadata.labels) ? object.metadata.labels : {}) != (has(oldObject.metadata.labels) ? oldObject.metadata.labels : {})",
      );
    }
    for (const name of ['validate.meshguard.io', 'gatewayclasses.validate.meshguard.io']) {
      const [c] = conditions(name);
      for (const field of ['object.metadata.labels', 'object.metadata.annotations', 'object.spec']) {
        expect(c.expression, `${name} compares ${field}`).toContain(`has(${field})`);
      }
    }
    for (const w of allWebhooks(objects)) {
      for (const c of w.matchConditions ?? []) {
        // object is null on DELETE and oldObject on CREATE: every condition settles the operation first.
        expect(c.expression.trim(), `${w.name}/${c.name}`).toMatch(/^request\.operation != '(UPDATE|CREATE)' \|\|/);
        expect(c.name).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
      }
    }
  });

  it('sends a pod UPDATE only when it changes what the mode rules read (the keys of src/validate/pod-mode-change.ts)', () => {
    const w = webhook(objects, 'pod-updates.validate.meshguard.io');
    expect(w.rules).toEqual([{ apiGroups: [''], apiVersions: ['v1'], operations: ['UPDATE'], resources: ['pods'], scope: 'Namespaced' }]);
    const [c, ...rest] = w.matchConditions;
    expect(rest).toEqual([]);
    const lists = [...c.expression.matchAll(/(\[[^\]]*\])\.exists\(k, \(k in \(has\(object\.metadata\.(\w+)\)/g)].map(([, keys, field]) => [field, JSON.parse(keys)]);
    expect(Object.fromEntries(lists)).toEqual({
      labels: [...MODE_LABEL_KEYS],
      annotations: [...MODE_ANNOTATION_KEYS, 'meshguard.io/decision'],
    });
  });

  it('makes the pod checks in the mutating call by default, so no validating entry matches a pod CREATE (meshguard.podChecksAt)', () => {
    expect(validating(objects).webhooks.map((w: any) => w.name)).not.toContain('pods.validate.meshguard.io');
    expect(only(objects, 'Deployment').spec.template.spec.containers[0].args).toContain('--pod-checks=mutating');
  });

  it('with podsFailurePolicy Fail, makes them in pods.validate.meshguard.io, sent only a pod CREATE that carries what they read (podCheckKeys of the bundled policy)', () => {
    const failClosed = render({ 'webhook.validating.podsFailurePolicy': 'Fail' });
    expect(podKeysOf(failClosed)).toEqual(podCheckKeys(loadPolicyFile()));
    expect(webhook(failClosed, 'pods.validate.meshguard.io').failurePolicy).toBe('Fail');
    expect(only(failClosed, 'Deployment').spec.template.spec.containers[0].args).toContain('--pod-checks=validating');
  });

  const grantsOf = (rendered: any[]) => {
    const role = only(rendered, 'ClusterRole');
    const grants = new Set<string>();
    for (const rule of role.rules) {
      expect(Object.keys(rule).sort()).toEqual(['apiGroups', 'resources', 'verbs']);
      for (const g of rule.apiGroups) for (const r of rule.resources) for (const v of rule.verbs) grants.add(`${g}/${r}/${v}`);
    }
    return [...grants].sort();
  };
  // The kinds the informers cache (src/cluster/snapshot.ts): a new one needs a new grant here.
  const snapshotGrants = SNAPSHOT_KINDS.flatMap((kind) => ['get', 'list', 'watch'].map((verb) => `${SNAPSHOT_GROUPS[kind]}/${resourceOf(kind)}/${verb}`));
  // The kinds the background audit watches itself (src/cluster-audit/caches.ts: RESOURCES the snapshot does not hold).
  const auditGrants = RESOURCES.filter((r) => !auditReadsSnapshot(r, loadPolicyFile())).flatMap((r) => ['list', 'watch'].map((verb) => `${r.group}/${r.plural}/${verb}`));

  it('grants get, list and watch on exactly the kinds the informers read, and list and watch on the kinds the audit watches', () => {
    const role = only(objects, 'ClusterRole');
    expect(snapshotGrants).toHaveLength(15);
    expect(auditGrants).toHaveLength(12);
    expect(grantsOf(objects)).toEqual([...snapshotGrants, ...auditGrants].sort());
    expect(objects.filter((o) => o.kind === 'Role' || o.kind === 'RoleBinding')).toEqual([]);

    const binding = only(objects, 'ClusterRoleBinding');
    const sa = only(objects, 'ServiceAccount');
    expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role.metadata.name });
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: sa.metadata.name, namespace: NS }]);
  });

  it.each(['0', '0s', '0m'])('with audit.interval=%s: no background audit, and no grant for it', (interval) => {
    const rendered = render({ 'audit.interval': interval });
    expect(grantsOf(rendered)).toEqual([...snapshotGrants].sort());
    expect(only(rendered, 'Deployment').spec.template.spec.containers[0].args).toContain(`--audit-interval=${interval}`);
  });

  // The report writer's resources (src/cluster-audit/report-objects.ts) and verbs (src/cluster/report-writer.ts).
  const reportGrants = (api: keyof typeof REPORT_API) =>
    [REPORT_API[api].namespaced, REPORT_API[api].cluster].flatMap((kind) => WRITER_VERBS.map((verb) => `${REPORT_API[api].group}/${kind.plural}/${verb}`));

  it('writes no reports by default: --reports=none, and no grant for them', () => {
    expect(only(objects, 'Deployment').spec.template.spec.containers[0].args).toContain('--reports=none');
    expect(grantsOf(objects).filter((g) => /reports\//.test(g))).toEqual([]);
  });

  it.each(['openreports', 'wgpolicyk8s'] as const)('with reports.api=%s: the flag, and list, create, patch and delete on exactly its two report resources', (api) => {
    const rendered = render({ 'reports.api': api });
    expect(only(rendered, 'Deployment').spec.template.spec.containers[0].args).toContain(`--reports=${api}`);
    expect(reportGrants(api)).toHaveLength(8);
    expect(grantsOf(rendered)).toEqual([...snapshotGrants, ...auditGrants, ...reportGrants(api)].sort());
  });

  it.each([
    [{ 'reports.api': 'openreports', 'audit.interval': '0' }],
    [{ 'reports.api': 'wgpolicyk8s', 'audit.interval': '0s', 'rbac.create': 'false' }],
  ])('refuses reports without the background audit: %j', (set) => {
    expect(() => render(set)).toThrow(new RegExp(`reports\\.api=${set['reports.api']} writes the background audit's results, but audit\\.interval=${set['audit.interval']} turns the audit off`));
  });

  it('runs two hardened replicas spread over nodes, probed over HTTPS', () => {
    const deploy = only(objects, 'Deployment');
    const pod = deploy.spec.template.spec;
    expect(deploy.spec.replicas).toBe(2);
    expect(pod.serviceAccountName).toBe(only(objects, 'ServiceAccount').metadata.name);
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    expect(Number.isInteger(pod.securityContext.runAsUser) && pod.securityContext.runAsUser > 0).toBe(true);

    const [c, ...sidecars] = pod.containers;
    expect(sidecars).toEqual([]);
    expect(c.image).toBe(`meshguard:${CHART_META.appVersion}`);
    expect(c.securityContext).toMatchObject({
      runAsNonRoot: true,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
    });
    expect(c.securityContext.privileged).toBeUndefined();
    expect(c.resources.requests).toMatchObject({ cpu: expect.anything(), memory: expect.anything() });
    expect(c.resources.limits.memory).toBeDefined();

    const port = (name: string) => c.ports.find((p: any) => p.name === name)?.containerPort;
    expect(port('https')).toBe(8443);
    expect(port('metrics')).toBe(9090);
    expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'https', scheme: 'HTTPS' });
    expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'https', scheme: 'HTTPS' });

    expect(c.args).toEqual(
      expect.arrayContaining(['serve', '--port=8443', '--metrics-port=9090', '--tls-cert=/etc/meshguard/tls/tls.crt', '--tls-key=/etc/meshguard/tls/tls.key', '--log-level=info']),
    );
    expect(c.args[0]).toBe('serve');
    expect(c.args.some((a: string) => a.startsWith('--policy'))).toBe(false);
    // Serves 5 s after SIGTERM while the endpoint is removed; kubelet waits for that and the drain.
    expect(c.args).toContain('--shutdown-delay=5s');
    expect(pod.terminationGracePeriodSeconds).toBe(30);
    // Mounted as a directory (no subPath), so a rotated Secret reaches the running pod.
    const tlsMount = c.volumeMounts.find((m: any) => m.mountPath === '/etc/meshguard/tls');
    expect(tlsMount).toMatchObject({ readOnly: true });
    expect(tlsMount.subPath).toBeUndefined();
    const tlsVolume = pod.volumes.find((v: any) => v.name === tlsMount.name);
    expect(tlsVolume.secret.secretName).toBe(only(objects, 'Secret').metadata.name);

    const term = pod.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm;
    expect(term.topologyKey).toBe('kubernetes.io/hostname');
    expect(term.labelSelector.matchLabels).toEqual(deploy.spec.selector.matchLabels);
    expect(deploy.spec.template.metadata.labels).toMatchObject(deploy.spec.selector.matchLabels);
    expect(pod.priorityClassName).toBeUndefined();
  });

  it('keeps one replica during voluntary disruptions', () => {
    const pdb = only(objects, 'PodDisruptionBudget');
    expect(pdb.spec.minAvailable).toBe(1);
    expect(pdb.spec.selector.matchLabels).toEqual(only(objects, 'Deployment').spec.selector.matchLabels);
  });

  it('exposes 443 -> 8443 for kube-apiserver and the metrics port', () => {
    const svc = only(objects, 'Service');
    expect(svc.spec.selector).toEqual(only(objects, 'Deployment').spec.selector.matchLabels);
    expect(svc.spec.ports).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: 'https', port: 443, targetPort: 'https' }),
        expect.objectContaining({ name: 'metrics', port: 9090, targetPort: 'metrics' }),
      ]),
    );
  });

  it('generates a CA and a serving certificate for the Service names, and gives both configurations the CA', () => {
    const secret = only(objects, 'Secret');
    expect(secret.type).toBe('kubernetes.io/tls');
    const pem = (key: string) => Buffer.from(secret.data[key], 'base64').toString();
    const ca = new X509Certificate(pem('ca.crt'));
    const cert = new X509Certificate(pem('tls.crt'));
    expect(ca.ca).toBe(true);
    expect(cert.checkIssued(ca) && cert.verify(ca.publicKey)).toBe(true);
    expect(cert.checkPrivateKey(createPrivateKey(pem('tls.key')))).toBe(true);
    const svc = only(objects, 'Service').metadata.name;
    const sans = cert.subjectAltName!.split(', ').map((s) => s.replace(/^DNS:/, ''));
    expect(sans.sort()).toEqual([svc, `${svc}.${NS}`, `${svc}.${NS}.svc`, `${svc}.${NS}.svc.cluster.local`].sort());
    for (const w of allWebhooks(objects)) expect(w.clientConfig.caBundle, w.name).toBe(secret.data['ca.crt']);
    for (const config of [mutating(objects), validating(objects)]) {
      expect(config.metadata.annotations?.['cert-manager.io/inject-ca-from']).toBeUndefined();
    }
  });
});

describe('helm template, variants', () => {
  it('cert-manager: a CA chain and serving Certificate, and cainjector annotations instead of caBundle', () => {
    const objects = render({ 'tls.mode': 'cert-manager' });
    expect(objects.filter((o) => o.kind === 'Secret')).toEqual([]);
    const issuers = objects.filter((o) => o.kind === 'Issuer');
    const certs = objects.filter((o) => o.kind === 'Certificate');
    expect(issuers.map((i) => Object.keys(i.spec)[0]).sort()).toEqual(['ca', 'selfSigned']);
    const caCert = certs.find((c) => c.spec.isCA);
    const serving = certs.find((c) => !c.spec.isCA);
    expect(caCert.spec.issuerRef.name).toBe(issuers.find((i) => i.spec.selfSigned).metadata.name);
    const caIssuer = issuers.find((i) => i.spec.ca);
    expect(caIssuer.spec.ca.secretName).toBe(caCert.spec.secretName);
    expect(serving.spec.issuerRef).toEqual({ name: caIssuer.metadata.name, kind: 'Issuer', group: 'cert-manager.io' });

    const svc = only(objects, 'Service').metadata.name;
    expect(serving.spec.dnsNames.sort()).toEqual([svc, `${svc}.${NS}`, `${svc}.${NS}.svc`, `${svc}.${NS}.svc.cluster.local`].sort());
    const pod = only(objects, 'Deployment').spec.template.spec;
    expect(pod.volumes.find((v: any) => v.name === 'tls').secret.secretName).toBe(serving.spec.secretName);

    for (const config of [mutating(objects), validating(objects)]) {
      expect(config.metadata.annotations['cert-manager.io/inject-ca-from']).toBe(`${NS}/${serving.metadata.name}`);
    }
    for (const w of allWebhooks(objects)) expect(w.clientConfig.caBundle, w.name).toBeUndefined();
  });

  it('cert-manager with a given issuer: no Issuers of its own', () => {
    const objects = render({ 'tls.mode': 'cert-manager', 'tls.certManager.issuerRef.name': 'corp-ca', 'tls.certManager.issuerRef.kind': 'ClusterIssuer' });
    expect(objects.filter((o) => o.kind === 'Issuer')).toEqual([]);
    const [serving, ...more] = objects.filter((o) => o.kind === 'Certificate');
    expect(more).toEqual([]);
    expect(serving.spec.issuerRef).toEqual({ name: 'corp-ca', kind: 'ClusterIssuer' });
  });

  it('secret: the given Secret and CA bundle', () => {
    const caBundle = Buffer.from('-----BEGIN CERTIFICATE-----\n...\n').toString('base64');
    const objects = render({ 'tls.mode': 'secret', 'tls.secret.name': 'my-tls', 'tls.secret.caBundle': caBundle });
    expect(objects.filter((o) => ['Secret', 'Certificate', 'Issuer'].includes(o.kind))).toEqual([]);
    for (const w of allWebhooks(objects)) expect(w.clientConfig.caBundle).toBe(caBundle);
    expect(only(objects, 'Deployment').spec.template.spec.volumes.find((v: any) => v.name === 'tls').secret.secretName).toBe('my-tls');
  });

  it('opt-out: every namespace but the excluded and opted-out ones', () => {
    const objects = render({ 'webhook.namespaceSelection': 'opt-out', 'webhook.excludedNamespaces': '{cert-manager,monitoring}' });
    for (const w of allWebhooks(objects).filter((w) => w.name !== 'gatewayclasses.validate.meshguard.io' && w.name !== ROOT_POLICIES)) {
      const exprs = selectorExpressions(w);
      expect(exprs, w.name).toHaveLength(2);
      expect([...exprs.find((e) => e.key === 'kubernetes.io/metadata.name').values].sort()).toEqual(
        [...ALWAYS_EXCLUDED, 'cert-manager', 'monitoring'].sort(),
      );
      expect(exprs).toContainEqual({ key: 'meshguard.io/enforcement', operator: 'NotIn', values: ['off'] });
    }
  });

  it('policy: a ConfigMap meshguard can load, passed with --policy, rolling pods when it changes', () => {
    const file = fileURLToPath(new URL('../../policies/default.yaml', import.meta.url));
    const text = readFileSync(file, 'utf8');
    const withPolicy = render({ policy: `@${file}` });
    const cm = withPolicy.find((o) => o.kind === 'ConfigMap' && o.metadata.name.endsWith('-policy'));
    expect(cm.data['policy.yaml'].trim()).toBe(text.trim());
    expect(() => parsePolicy(cm.data['policy.yaml'])).not.toThrow();
    const deploy = only(withPolicy, 'Deployment');
    const c = deploy.spec.template.spec.containers[0];
    expect(c.args).toContain('--policy=/etc/meshguard/policy/policy.yaml');
    const mount = c.volumeMounts.find((m: any) => m.mountPath === '/etc/meshguard/policy');
    expect(deploy.spec.template.spec.volumes.find((v: any) => v.name === mount.name).configMap.name).toBe(cm.metadata.name);

    const asMap = render({ 'policy.clusterDefaultMode': 'sidecar' });
    const cm2 = asMap.find((o) => o.kind === 'ConfigMap');
    expect(parsePolicy(cm2.data['policy.yaml']).clusterDefaultMode).toBe('sidecar');
    const checksum = (objects: any[]) => only(objects, 'Deployment').spec.template.metadata.annotations['checksum/policy'];
    expect(checksum(withPolicy)).not.toBe(checksum(asMap));
    expect(checksum(render({ 'policy.clusterDefaultMode': 'sidecar' }))).toBe(checksum(asMap));
  });

  it('istioVersion: passed as --istio-version when set, and checked by the schema', () => {
    const args = (objects: any[]): string[] => only(objects, 'Deployment').spec.template.spec.containers[0].args;
    expect(args(render()).some((a) => a.startsWith('--istio-version'))).toBe(false);
    expect(args(render({ istioVersion: '=1.29' }))).toContain('--istio-version=1.29');
    const out = runHelm(['template', 'meshguard', CHART, '--set-string', 'istioVersion=1.40']);
    expect(out.ok).toBe(false);
    expect(out.stderr).toContain('istioVersion');
  });

  it('policy: where the pod checks run, and the pod CREATE condition, follow the policy\'s catalog entries for Pods', () => {
    const dir = mkdtempSync(join(tmpdir(), 'meshguard-chart-'));
    try {
      const entry = (path: unknown) =>
        `  - {rule: removed-annotation, group: "", kinds: [Pod], path: ${JSON.stringify(path)}, message: is gone, replacement: "", since: "1.31"}\n`;
      let n = 0;
      const withCatalog = (...entries: string[]) => {
        const file = join(dir, `policy-${++n}.yaml`);
        const text = `clusterDefaultMode: ambient\ndeprecations:\n${entries.join('')}`;
        writeFileSync(file, text);
        return {
          objects: render({ policy: `@${file}` }),
          failClosed: render({ policy: `@${file}`, 'webhook.validating.podsFailurePolicy': 'Fail' }),
          policy: parsePolicy(text),
        };
      };
      const podChecksAt = (rendered: any[]) => only(rendered, 'Deployment').spec.template.spec.containers[0].args.find((a: string) => a.startsWith('--pod-checks='));
      const keyed = withCatalog(entry(['metadata.labels["example.com/old"]', 'metadata.annotations.legacy']));
      expect(podChecksAt(keyed.objects)).toBe('--pod-checks=mutating');
      expect(podKeysOf(keyed.failClosed)).toEqual(podCheckKeys(keyed.policy));
      expect(podCheckKeys(keyed.policy)).toEqual({ labels: ['istio.io/use-waypoint', 'example.com/old'], annotations: ['legacy'] });
      // A Pod entry on anything else (which Istio's injector may change): every pod CREATE goes to the
      // validating entry, which sees the pod after every mutation, and the checks run there.
      const spec = withCatalog(entry('metadata.labels["a"]'), entry('spec.hostNetwork'));
      expect(podCheckKeys(spec.policy)).toBeUndefined();
      expect(podChecksAt(spec.objects)).toBe('--pod-checks=validating');
      expect(webhook(spec.objects, 'pods.validate.meshguard.io')).toMatchObject({ failurePolicy: 'Ignore' });
      expect(webhook(spec.objects, 'pods.validate.meshguard.io').matchConditions).toBeUndefined();
      // Without a catalog only the waypoint label matters; as a map value the policy is read the same.
      expect(podKeysOf(render({ 'policy.clusterDefaultMode': 'sidecar', 'webhook.validating.podsFailurePolicy': 'Fail' }))).toEqual({ labels: ['istio.io/use-waypoint'], annotations: [] });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('one replica: no PodDisruptionBudget that would block node drains', () => {
    expect(render({ replicaCount: '1' }).filter((o) => o.kind === 'PodDisruptionBudget')).toEqual([]);
  });

  it('shutdownDelaySeconds: passed to meshguard, and the grace period grows with it', () => {
    const pod = only(render({ shutdownDelaySeconds: '12' }), 'Deployment').spec.template.spec;
    expect(pod.containers[0].args).toContain('--shutdown-delay=12s');
    expect(pod.terminationGracePeriodSeconds).toBe(37);
  });

  it('server.maxConnections: passed to meshguard (default 1000), and checked by the schema', () => {
    const args = (values: Record<string, string>) => only(render(values), 'Deployment').spec.template.spec.containers[0].args;
    expect(args({})).toContain('--max-connections=1000');
    expect(args({ 'server.maxConnections': '250' })).toContain('--max-connections=250');
    expect(() => render({ 'server.maxConnections': '0' })).toThrow(/maxConnections/);
  });

  it('priorityClassName, mutating namePrefix and failure policies are configurable', () => {
    const objects = render({
      priorityClassName: 'meshguard-critical',
      'webhook.namePrefix': 'a-',
      'webhook.validating.podsFailurePolicy': 'Fail',
      'webhook.mutating.failurePolicy': 'Fail',
    });
    expect(only(objects, 'Deployment').spec.template.spec.priorityClassName).toBe('meshguard-critical');
    expect(mutating(objects).metadata.name).toBe('a-meshguard-pod-mode');
    expect(webhook(objects, 'pods.validate.meshguard.io').failurePolicy).toBe('Fail');
    expect(webhook(objects, 'pod-mode.meshguard.io').failurePolicy).toBe('Fail');
  });

  it('metrics: a ServiceMonitor on the metrics port and the Grafana dashboard ConfigMap', () => {
    const objects = render({ 'metrics.serviceMonitor.enabled': 'true', 'metrics.dashboard.enabled': 'true' });
    const sm = only(objects, 'ServiceMonitor');
    expect(sm.spec.endpoints).toEqual([expect.objectContaining({ port: 'metrics', path: '/metrics' })]);
    expect(only(objects, 'Service').metadata.labels).toMatchObject(sm.spec.selector.matchLabels);
    const cm = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.labels.grafana_dashboard === '1');
    expect(JSON.parse(cm.data['meshguard.json'])).toEqual(JSON.parse(readFileSync(join(CHART, 'dashboards/meshguard.json'), 'utf8')));
  });
});

describe('Grafana dashboard', () => {
  const dashboard = JSON.parse(readFileSync(join(CHART, 'dashboards/meshguard.json'), 'utf8'));
  const exprs: string[] = dashboard.panels.flatMap((p: any) => (p.targets ?? []).map((t: any) => t.expr));

  it.each([
    'sum by (mode) (rate(meshguard_pod_mode_decisions_total[5m]))',
    'sum by (mode, rule) (rate(meshguard_pod_mode_decisions_total[5m]))',
    'sum by (rule) (rate(meshguard_validation_findings_total{result="denied"}[5m]))',
    'sum by (webhook, kind) (rate(meshguard_admission_requests_total{result="denied"}[5m]))',
    'histogram_quantile(0.5, sum by (le, webhook) (rate(meshguard_admission_duration_seconds_bucket[5m])))',
    'histogram_quantile(0.99, sum by (le, webhook) (rate(meshguard_admission_duration_seconds_bucket[5m])))',
    'min by (kind) (meshguard_cache_synced)',
    'max by (rule, severity) (meshguard_audit_violations)',
    'max by (namespace) (meshguard_audit_namespace_violations)',
    'max by (mode) (meshguard_audit_pods_actual_mode)',
    'max by (mode) (meshguard_audit_pods_decided_mode)',
    'max(meshguard_audit_duration_seconds)',
    'time() - max(meshguard_audit_last_run_timestamp_seconds)',
    'min(meshguard_audit_complete)',
  ])('has a panel for %s', (expr) => {
    expect(exprs).toContain(expr);
  });

  it('has unique panel ids and a Prometheus data source variable', () => {
    const ids = dashboard.panels.map((p: any) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(dashboard.templating.list).toContainEqual(expect.objectContaining({ name: 'datasource', type: 'datasource', query: 'prometheus' }));
  });
});

describe('values.schema.json', () => {
  it.each([
    ['a mutating name that sorts after Istio', { 'webhook.namePrefix': 'istio-' }],
    ['a mutating name that sorts after Istio (no prefix)', { 'webhook.namePrefix': '=' }],
    ['a mutating prefix starting with i', { 'webhook.namePrefix': 'is-' }],
    ['an unknown namespace selection', { 'webhook.namespaceSelection': 'all' }],
    ['an unknown TLS mode', { 'tls.mode': 'none' }],
    ['secret mode without a secret', { 'tls.mode': 'secret' }],
    ['a lower-case failure policy', { 'webhook.validating.failurePolicy': 'fail' }],
    ['a timeout above 30 seconds', { 'webhook.mutating.timeoutSeconds': '31' }],
    ['zero replicas', { replicaCount: '0' }],
    ['an unknown value', { replicas: '3' }],
    ['a misspelt nested value', { 'webhook.namespaceSelecton': 'opt-in' }],
    ['an unknown log level', { logLevel: 'verbose' }],
    ['an audit interval that is not a duration', { 'audit.interval': 'hourly' }],
    ['an unknown report API', { 'reports.api': 'off' }],
  ])('rejects %s', (_name, set) => {
    expect(() => render(set)).toThrow(/schema/);
  });

  it('every namePrefix the schema accepts sorts before Istio injectors, whatever follows it', () => {
    const schema = JSON.parse(readFileSync(join(CHART, 'values.schema.json'), 'utf8'));
    const pattern = new RegExp(schema.properties.webhook.properties.namePrefix.pattern);
    fc.assert(
      fc.property(fc.stringMatching(pattern), fc.stringMatching(/^[a-z0-9][-a-z0-9]*$/), (prefix, rest) => {
        for (const istio of ISTIO_INJECTORS) expect(prefix + rest < istio).toBe(true);
      }),
    );
    expect(pattern.test('00-')).toBe(true);
  });
});

// A control plane of its own (the e2e harness's, test/e2e/control-plane.ts, started a second time):
// the API server validates every object the chart makes (CEL in matchConditions is compiled and
// type-checked on create), and with no meshguard pods behind the Service, every request that reaches
// a webhook fails to call it. So under failurePolicy Fail a rejected request proves the webhook was
// called, and an allowed one that it was skipped (by the namespaceSelector or a matchCondition, which
// also must not error at runtime). Its own, because helm install registers cluster-wide webhooks that
// would refuse the other files' requests.
describe('installed into kube-apiserver 1.34', () => {
  let cp: ControlPlane;
  let api: (method: string, path: string, body?: unknown, contentType?: string) => Promise<{ status: number; body: any }>;
  let kubeconfig: string;

  beforeAll(async () => {
    cp = await startControlPlane({
      // Resolve webhook Services through their endpoints: with no meshguard pods there are none,
      // so a webhook call fails at once instead of waiting for a ClusterIP nobody routes.
      apiserverArgs: ['--enable-aggregator-routing=true'],
    });
    kubeconfig = cp.info.kubeconfig;
    const ca = readFileSync(cp.info.caFile, 'utf8');
    api = (method, path, body, contentType) => apiRequest({ ...cp.info, ca }, method, path, body, contentType);

    // Everything the checks below update or delete exists before the webhooks do. The harness has
    // installed the Gateway API CRDs (test/e2e/crds).
    for (const [name, labels] of [
      ['opted', { 'meshguard.io/enforcement': 'enforce' }],
      ['opted-2', { 'meshguard.io/enforcement': 'warn' }],
      ['plain', {}],
      ['disabled', { 'meshguard.io/enforcement': 'off' }],
    ] as const) {
      await mustCreate('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } });
    }
    await mustCreate('/api/v1/namespaces/opted/services', service('web'));
    await mustCreate('/apis/gateway.networking.k8s.io/v1/namespaces/opted/gateways', gateway('waypoint'));
    await mustCreate('/apis/gateway.networking.k8s.io/v1/gatewayclasses', gatewayClass('istio-waypoint'));
  }, 180_000);

  afterAll(async () => {
    await cp?.stop();
  });

  async function mustCreate(collection: string, obj: any) {
    const res = await api('POST', collection, obj);
    if (res.status !== 201) throw new Error(`create ${collection} ${obj.metadata.name}: ${res.status} ${JSON.stringify(res.body)}`);
  }

  const service = (name: string, labels: Record<string, string> = {}) => ({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, labels },
    spec: { ports: [{ port: 80 }] },
  });
  const gateway = (name: string) => ({
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'Gateway',
    metadata: { name, labels: { 'istio.io/waypoint-for': 'service' } },
    spec: { gatewayClassName: 'istio-waypoint', listeners: [{ name: 'mesh', port: 15008, protocol: 'HBONE' }] },
  });
  const gatewayClass = (name: string) => ({
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'GatewayClass',
    metadata: { name },
    spec: { controllerName: 'istio.io/mesh-controller' },
  });
  const pod = (name: string) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name },
    spec: { containers: [{ name: 'app', image: 'busybox' }] },
  });
  const merge = (path: string, patch: unknown) => api('PATCH', path, patch, 'application/merge-patch+json');

  /** What happened to a request: admitted, or which webhook it failed to call. */
  function outcome(res: { status: number; body: any }) {
    if (res.status >= 200 && res.status < 300) return 'admitted';
    const message: string = res.body?.message ?? JSON.stringify(res.body);
    // Only reached once the selectors matched and every matchCondition evaluated to true.
    const called = /failed calling webhook "([^"]+)": failed to call webhook/.exec(message);
    return called ? `called ${called[1]}` : `error ${res.status}: ${message}`;
  }

  it('helm install succeeds: kube-apiserver accepts every object, CEL included', () => {
    const out = runHelm(['install', 'meshguard', CHART, '--namespace', NS, '--create-namespace', '--kubeconfig', kubeconfig]);
    expect(out.ok, out.stderr).toBe(true);
    // NOTES.txt: how to opt a namespace in.
    expect(out.stdout).toContain('kubectl label namespace NAME meshguard.io/enforcement=enforce');
    // The memoised generated certificate lives only in the rendering, never in the stored values.
    const values = runHelm(['get', 'values', 'meshguard', '--all', '--namespace', NS, '--kubeconfig', kubeconfig]);
    expect(values.ok).toBe(true);
    expect(values.stdout).not.toMatch(/PRIVATE KEY|__meshguard/);
  });

  it('helm upgrade keeps the generated CA and certificate', async () => {
    const before = await api('GET', `/api/v1/namespaces/${NS}/secrets/meshguard-tls`);
    const out = runHelm(['upgrade', 'meshguard', CHART, '--namespace', NS, '--kubeconfig', kubeconfig, '--set', 'logLevel=debug']);
    expect(out.ok, out.stderr).toBe(true);
    const after = await api('GET', `/api/v1/namespaces/${NS}/secrets/meshguard-tls`);
    expect(after.body.data).toEqual(before.body.data);
    const config = await api('GET', '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/00-meshguard-pod-mode');
    expect(config.body.webhooks[0].clientConfig.caBundle).toBe(before.body.data['ca.crt']);
    const deploy = await api('GET', `/apis/apps/v1/namespaces/${NS}/deployments/meshguard`);
    expect(deploy.body.spec.template.spec.containers[0].args).toContain('--log-level=debug');
  });

  it('pods are created while meshguard is down (mutation and pod validation fail open)', async () => {
    expect(outcome(await api('POST', '/api/v1/namespaces/opted/pods', pod('app')))).toBe('admitted');
  });

  it('pod updates reach meshguard only when they change the mode labels, and then fail closed', async () => {
    const path = '/api/v1/namespaces/opted/pods/app';
    expect(outcome(await merge(path, { metadata: { labels: { app: 'web' }, annotations: { note: 'x' } } }))).toBe('admitted');
    expect(outcome(await merge(path, { metadata: { labels: { 'istio.io/dataplane-mode': 'none' } } }))).toBe('called pod-updates.validate.meshguard.io');
    expect(outcome(await merge(path, { metadata: { labels: { 'sidecar.istio.io/inject': 'true' } } }))).toBe('called pod-updates.validate.meshguard.io');
    expect(outcome(await merge(path, { metadata: { annotations: { 'meshguard.io/mode': 'none' } } }))).toBe('called pod-updates.validate.meshguard.io');
    expect(outcome(await merge(path, { metadata: { annotations: { 'meshguard.io/decision': 'none/pod-override' } } }))).toBe('called pod-updates.validate.meshguard.io');
    expect(outcome(await merge(path, { metadata: { labels: { app: 'api' } } }))).toBe('admitted');
    // Outside the selected namespaces nothing is sent.
    expect(outcome(await api('POST', '/api/v1/namespaces/plain/pods', pod('app')))).toBe('admitted');
    expect(outcome(await merge('/api/v1/namespaces/plain/pods/app', { metadata: { labels: { 'istio.io/dataplane-mode': 'none' } } }))).toBe('admitted');
  });

  it.each([
    ['a Service in an opted-in namespace', 'opted', 'called services.validate.meshguard.io'],
    ['a Service in a namespace without the label (opt-in)', 'plain', 'admitted'],
    ['a Service in a namespace labelled off', 'disabled', 'admitted'],
    ['a Service in the release namespace', NS, 'admitted'],
    ['a Service in kube-system', 'kube-system', 'admitted'],
  ])('creating %s: %s', async (_name, ns, expected) => {
    expect(outcome(await api('POST', `/api/v1/namespaces/${ns}/services`, service('new')))).toBe(expected);
  });

  it('Service updates reach meshguard only when labels change', async () => {
    const path = '/api/v1/namespaces/opted/services/web';
    expect(outcome(await merge(path, { spec: { ports: [{ name: 'http', port: 80 }, { name: 'https', port: 443 }] } }))).toBe('admitted');
    expect(outcome(await merge(path, { metadata: { annotations: { note: 'x' } } }))).toBe('admitted');
    expect(outcome(await merge(path, { metadata: { labels: { 'istio.io/use-waypoint': 'waypoint' } } }))).toBe('called services.validate.meshguard.io');
  });

  it('Namespace changes reach meshguard for the namespace itself, and never block opting out', async () => {
    const path = '/api/v1/namespaces/opted-2';
    expect(outcome(await merge(path, { metadata: { annotations: { note: 'x' } } }))).toBe('admitted');
    expect(outcome(await merge(path, { metadata: { labels: { 'istio.io/dataplane-mode': 'ambient' } } }))).toBe('called namespaces.validate.meshguard.io');
    expect(outcome(await merge(path, { metadata: { labels: { 'meshguard.io/enforcement': 'off' } } }))).toBe('admitted');
    const ns = (name: string, labels: Record<string, string>) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } });
    expect(outcome(await api('POST', '/api/v1/namespaces', ns('new-opted', { 'meshguard.io/enforcement': 'enforce' })))).toBe('called namespaces.validate.meshguard.io');
    expect(outcome(await api('POST', '/api/v1/namespaces', ns('new-plain', {})))).toBe('admitted');
  });

  it('Gateway changes reach meshguard unless only metadata bookkeeping changed; DELETE does too', async () => {
    const path = '/apis/gateway.networking.k8s.io/v1/namespaces/opted/gateways/waypoint';
    expect(outcome(await merge(path, { metadata: { finalizers: ['example.com/keep'] } }))).toBe('admitted');
    expect(outcome(await merge(path, { spec: { listeners: [{ name: 'mesh', port: 15009, protocol: 'HBONE' }] } }))).toBe('called validate.meshguard.io');
    expect(outcome(await api('DELETE', path))).toBe('called validate.meshguard.io');
    expect(outcome(await api('POST', '/apis/gateway.networking.k8s.io/v1/namespaces/plain/gateways', gateway('other')))).toBe('admitted');
  });

  it('GatewayClasses reach meshguard in every namespace selection (cluster-scoped), except finalizer churn', async () => {
    const path = '/apis/gateway.networking.k8s.io/v1/gatewayclasses/istio-waypoint';
    expect(outcome(await merge(path, { metadata: { finalizers: ['gateway-exists-finalizer.gateway.networking.k8s.io'] } }))).toBe('admitted');
    expect(outcome(await merge(path, { metadata: { labels: { 'istio.io/waypoint-for': 'all' } } }))).toBe('called gatewayclasses.validate.meshguard.io');
    expect(outcome(await api('POST', '/apis/gateway.networking.k8s.io/v1/gatewayclasses', gatewayClass('other')))).toBe('called gatewayclasses.validate.meshguard.io');
    expect(outcome(await api('DELETE', path))).toBe('called gatewayclasses.validate.meshguard.io');
  });

  it('helm uninstall removes the webhooks, so nothing is blocked any more', async () => {
    const out = runHelm(['uninstall', 'meshguard', '--namespace', NS, '--kubeconfig', kubeconfig]);
    expect(out.ok, out.stderr).toBe(true);
    expect(outcome(await api('POST', '/api/v1/namespaces/opted/services', service('after')))).toBe('admitted');
  });
});
