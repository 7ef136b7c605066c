// `meshguard serve --audit-interval` against the real kube-apiserver: objects created while
// meshguard's webhooks were not installed show up in its audit metrics, and fixing them clears
// them at the next interval (the watched caches see the change; nothing is re-listed).
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { clients, eventually } from './control-plane.js';
import { createNamespace, startMeshguard, type Meshguard } from './meshguard-process.js';
import { ambientPod, createL7SelectorPolicy, createSidecarPods, makePolicyL4 } from './seeded-violations.js';

const cp = inject('controlPlane');
const { core, admission } = clients(cp);

const NS = { drift: 'bga-drift', policy: 'bga-policy' } as const;


let meshguard: Meshguard;
const violations = (namespace: string) => meshguard.metric('meshguard_audit_namespace_violations', { namespace });
const lastRun = () => meshguard.metric('meshguard_audit_last_run_timestamp_seconds');

beforeAll(async () => {
  // The point: these objects never met meshguard's webhooks.
  const hooks = [...(await admission.listMutatingWebhookConfiguration()).items, ...(await admission.listValidatingWebhookConfiguration()).items];
  expect(hooks.map((h) => h.metadata?.name).filter((n) => n?.includes('meshguard'))).toEqual([]);
  await createNamespace(cp, NS.drift, { 'meshguard.io/default-mode': 'ambient' });
  await createNamespace(cp, NS.policy, { 'istio.io/dataplane-mode': 'ambient' });
  await createSidecarPods(cp, NS.drift, ['web-6b8d7-aaaaa', 'web-6b8d7-bbbbb']);
  await createL7SelectorPolicy(cp, NS.policy);
  meshguard = await startMeshguard(cp, { name: 'meshguard-bgaudit', auditInterval: '2s' });
});

afterAll(async () => {
  await meshguard?.stop();
});

describe('meshguard serve --audit-interval', () => {
  it('reports the seeded violations in its metrics', async () => {
    await eventually('the seeded violations in the audit metrics', async () => (await violations(NS.drift)) === 1 && (await violations(NS.policy)) === 1, 60_000, 250);
    expect(await meshguard.metric('meshguard_audit_violations', { rule: 'pod-mode-drift' })).toBeGreaterThanOrEqual(1);
    expect(await meshguard.metric('meshguard_audit_violations', { rule: 'authz-l7-needs-waypoint' })).toBeGreaterThanOrEqual(1);
    expect(await meshguard.metric('meshguard_audit_complete')).toBe(1);
    expect(await meshguard.metric('meshguard_audit_pods_actual_mode', { mode: 'sidecar' })).toBeGreaterThanOrEqual(2);
    expect(await meshguard.metric('meshguard_audit_pods_decided_mode', { mode: 'ambient' })).toBeGreaterThanOrEqual(2);
    expect(await meshguard.metric('meshguard_cache_synced', { kind: 'Pod' })).toBe(1);
    expect(await meshguard.metric('meshguard_cache_objects', { kind: 'AuthorizationPolicy.security.istio.io' })).toBeGreaterThanOrEqual(1);
    expect(await meshguard.metric('meshguard_audit_duration_seconds')).toBeGreaterThan(0);
  });

  it('fixing the objects clears them at the next interval', async () => {
    // The fix pod-mode-drift asks for: the workload's pods created again, as meshguard's mutation makes
    // them in this namespace (ambient label and decision annotation, no sidecar).
    for (const name of ['web-6b8d7-aaaaa', 'web-6b8d7-bbbbb']) await core.deleteNamespacedPod({ name, namespace: NS.drift, gracePeriodSeconds: 0 });
    await core.createNamespacedPod({ namespace: NS.drift, body: ambientPod('web-6b8d7-ccccc') });
    await makePolicyL4(cp, NS.policy);
    const fixedAt = Date.now() / 1000;
    await eventually('the fixed objects gone from the audit metrics', async () => (await violations(NS.drift)) === 0 && (await violations(NS.policy)) === 0, 30_000, 250);
    expect(await lastRun()).toBeGreaterThan(fixedAt);
    expect(await meshguard.metric('meshguard_audit_pods_actual_mode', { mode: 'ambient' })).toBeGreaterThanOrEqual(1);
  });

  it('logs one line of counts per run, and nothing from the objects', async () => {
    const { readFileSync } = await import('node:fs');
    const lines = readFileSync(meshguard.logFile, 'utf8').split('\n').filter((l) => l.includes('"background audit"'));
    expect(lines.length).toBeGreaterThanOrEqual(2);
    for (const line of lines) {
      expect(line).not.toContain('web-6b8d7');
      expect(line).not.toContain('no-deletes');
    }
  });
});
