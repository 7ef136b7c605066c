// `meshguard audit --kubeconfig` against the real kube-apiserver: objects created while meshguard's
// webhooks were not installed (pods in the wrong mode, an L7 selector policy, a use-waypoint label
// to a missing waypoint) are found with the right rule ids, and nothing else; RBAC-forbidden,
// unserved and unreachable kinds are reported by kind while the rest is audited.
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import type { AuditReport } from '../../src/cluster-audit/run.js';
import { clients, freePort } from './control-plane.js';
import { CLI, createNamespace } from './meshguard-process.js';
import { AUTHORIZATION_POLICIES, createL7SelectorPolicy, createServiceUsingMissingWaypoint, createSidecarPods } from './seeded-violations.js';

const cp = inject('controlPlane');
const { core, custom, admission, kc } = clients(cp);
const run = promisify(execFile);

const NS = { drift: 'aud-drift', policy: 'aud-policy', clean: 'aud-clean' } as const;

/** `meshguard audit` as a user runs it: the exit status and the parsed JSON report. */
async function audit(args: string[]): Promise<{ code: number; report: AuditReport; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, 'audit', '--format', 'json', ...args], { maxBuffer: 64 << 20 });
    return { code: 0, report: JSON.parse(stdout), stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    if (typeof e.code !== 'number' || !e.stdout) throw err;
    return { code: e.code, report: JSON.parse(e.stdout), stderr: e.stderr };
  }
}
const ours = ['--namespace', NS.drift, '--namespace', NS.policy, '--namespace', NS.clean];


beforeAll(async () => {
  // The point: these objects never met meshguard's webhooks.
  const hooks = await admission.listMutatingWebhookConfiguration();
  const validating = await admission.listValidatingWebhookConfiguration();
  expect([...hooks.items, ...validating.items].map((h) => h.metadata?.name).filter((n) => n?.includes('meshguard'))).toEqual([]);

  await createNamespace(cp, NS.drift, { 'meshguard.io/default-mode': 'ambient' });
  await createNamespace(cp, NS.policy, { 'istio.io/dataplane-mode': 'ambient' });
  await createNamespace(cp, NS.clean, { 'istio.io/dataplane-mode': 'ambient' });
  await createSidecarPods(cp, NS.drift, ['web-6b8d7-aaaaa', 'web-6b8d7-bbbbb', 'web-6b8d7-ccccc']);
  await createServiceUsingMissingWaypoint(cp, NS.policy);
  await createL7SelectorPolicy(cp, NS.policy);
  // Clean objects: an ambient pod, a Service without a waypoint, an L4 policy.
  await core.createNamespacedPod({ namespace: NS.clean, body: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'ok' }, spec: { containers: [{ name: 'app', image: 'app:1' }] } } });
  await core.createNamespacedService({ namespace: NS.clean, body: { apiVersion: 'v1', kind: 'Service', metadata: { name: 'ok' }, spec: { ports: [{ port: 80 }] } } });
  await custom.createNamespacedCustomObject({
    ...AUTHORIZATION_POLICIES,
    namespace: NS.clean,
    body: { apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: 'l4' }, spec: { selector: { matchLabels: { app: 'ok' } }, rules: [{ to: [{ operation: { ports: ['80'] } }] }] } },
  });
});

describe('meshguard audit --kubeconfig', () => {
  it('finds each seeded problem with its rule id, and nothing else', async () => {
    const { code, report } = await audit(['--kubeconfig', cp.kubeconfig, ...ours]);
    expect(code).toBe(1);
    expect(report.complete).toBe(true);
    expect(report.readErrors).toEqual([]);
    expect(report.findings.map((f) => `${f.namespace} ${f.kind}/${f.name} ${f.rule}`)).toEqual([
      `${NS.drift} Deployment/web pod-mode-drift`,
      `${NS.policy} AuthorizationPolicy/no-deletes authz-l7-needs-waypoint`,
      `${NS.policy} Service/cart waypoint-missing`,
    ]);
    const drift = report.findings[0];
    expect(drift.pods).toEqual({ count: 3, names: ['web-6b8d7-aaaaa', 'web-6b8d7-bbbbb', 'web-6b8d7-ccccc'] });
    expect(drift.message).toMatch(/^\[pod-mode-drift\] runs in sidecar mode \(annotation sidecar\.istio\.io\/status\), but meshguard decides ambient/);
    expect(report.summary.objects).toMatchObject({ Namespace: 3, Pod: 4, Service: 2, AuthorizationPolicy: 2 });
    expect(report.summary.pods).toEqual({ actual: { ambient: 1, sidecar: 3, none: 0 }, decided: { ambient: 4, sidecar: 0, none: 0 } });
  });

  it('text output groups by namespace; sarif is SARIF 2.1.0', async () => {
    const text = await run(process.execPath, [CLI, 'audit', '--kubeconfig', cp.kubeconfig, ...ours, '--fail-on', 'never']);
    expect(text.stdout).toContain(`namespace ${NS.drift}:\n  warning: Deployment web (3 pods: web-6b8d7-aaaaa, web-6b8d7-bbbbb, web-6b8d7-ccccc): [pod-mode-drift]`);
    const sarif = await run(process.execPath, [CLI, 'audit', '--kubeconfig', cp.kubeconfig, ...ours, '--format', 'sarif', '--fail-on', 'never']);
    const log = JSON.parse(sarif.stdout);
    expect(log.version).toBe('2.1.0');
    expect(log.runs[0].results.map((r: { ruleId: string }) => r.ruleId)).toEqual(['pod-mode-drift', 'authz-l7-needs-waypoint', 'waypoint-missing']);
    expect(log.runs[0].results[2].locations[0].logicalLocations[0].fullyQualifiedName).toBe(`Service ${NS.policy}/cart`);
  });

  it('a kind RBAC forbids is reported by kind, the rest is audited, and the exit status says partial (3)', async () => {
    const rbac = 'meshguard-audit-no-sidecars';
    const objects = clients(cp).objects;
    await objects.create({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: rbac },
      rules: [
        { apiGroups: [''], resources: ['namespaces', 'pods', 'services'], verbs: ['list'] },
        { apiGroups: ['gateway.networking.k8s.io'], resources: ['gateways', 'gatewayclasses'], verbs: ['list'] },
        { apiGroups: ['security.istio.io'], resources: ['authorizationpolicies'], verbs: ['list'] },
        { apiGroups: ['networking.istio.io'], resources: ['virtualservices', 'destinationrules', 'gateways', 'serviceentries'], verbs: ['list'] },
      ],
    } as never);
    await objects.create({
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: rbac },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: rbac },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'auditor' }],
    } as never);
    // The admin token, impersonating a user that may list everything but Sidecars.
    const config = JSON.parse(kc.exportConfig());
    config.users[0].user.as = 'auditor';
    const file = join(cp.dir, 'kubeconfig-auditor');
    writeFileSync(file, JSON.stringify(config), { mode: 0o600 });

    const { code, report } = await audit(['--kubeconfig', file, ...ours]);
    expect(code).toBe(3);
    expect(report.complete).toBe(false);
    expect(report.readErrors).toEqual([
      { resource: 'Sidecar.networking.istio.io', kind: 'Sidecar', group: 'networking.istio.io', reason: 'forbidden', message: expect.stringContaining('sidecars.networking.istio.io is forbidden: User "auditor"') },
    ]);
    expect(report.findings.map((f) => f.rule)).toEqual(['pod-mode-drift', 'authz-l7-needs-waypoint', 'waypoint-missing']);
  });

  it('an unreachable API server: every kind reported unreachable, exit 3', async () => {
    const config = JSON.parse(kc.exportConfig());
    config.clusters[0].cluster.server = `https://127.0.0.1:${await freePort()}`;
    const file = join(cp.dir, 'kubeconfig-nowhere');
    writeFileSync(file, JSON.stringify(config), { mode: 0o600 });
    const { code, report } = await audit(['--kubeconfig', file]);
    expect(code).toBe(3);
    expect(report.findings).toEqual([]);
    expect(report.readErrors.map((e) => `${e.resource} ${e.reason}`)).toEqual([
      'Namespace unreachable',
      'GatewayClass.gateway.networking.k8s.io unreachable',
      'Gateway.gateway.networking.k8s.io unreachable',
      'Service unreachable',
      'ServiceEntry.networking.istio.io unreachable',
      'Pod unreachable',
      'AuthorizationPolicy.security.istio.io unreachable',
      'VirtualService.networking.istio.io unreachable',
      'DestinationRule.networking.istio.io unreachable',
      'Sidecar.networking.istio.io unreachable',
      'Gateway.networking.istio.io unreachable',
    ]);
  });
});
