// `meshguard serve --reports openreports` against the real kube-apiserver, as the chart runs it: two
// replicas under the chart's own ClusterRole (rendered with reports.api=openreports, bound to
// meshguard's ServiceAccount, which both processes impersonate), each with a short audit interval.
// Objects created while meshguard's webhooks were not installed are written as Report entries with
// their rule ids; fixing an object removes its entry at the next interval; the two replicas writing
// at once leave one correct set, and a report deleted behind their backs comes back.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { REPORT_API } from '../../src/cluster-audit/report-objects.js';
import { clients, eventually, installCrds } from './control-plane.js';
import { createNamespace, startMeshguard, type Meshguard } from './meshguard-process.js';
import { ambientPod, createL7SelectorPolicy, createServiceUsingMissingWaypoint, createSidecarPods, makePolicyL4 } from './seeded-violations.js';
import { apply, renderChart, type Rendered } from './webhooks.js';

const cp = inject('controlPlane');
const { core, custom, admission, objects, kc } = clients(cp);
const api = REPORT_API.openreports;
const REPORTS = { group: api.group, version: api.version, plural: api.namespaced.plural };
const MANAGED = 'app.kubernetes.io/managed-by=meshguard';
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

const NS = { drift: 'srv-rep-drift', policy: 'srv-rep-policy' } as const;


/** meshguard's Report in a namespace as stored, or undefined. */
async function report(namespace: string): Promise<any> {
  return custom.getNamespacedCustomObject({ ...REPORTS, namespace, name: 'meshguard' }).catch((err: { code?: number }) => {
    if (err.code === 404) return undefined;
    throw err;
  });
}
const entries = (r: any): string[] => (r?.results ?? []).map((x: any) => `${x.resources[0].kind}/${x.resources[0].name} ${x.rule} ${x.result}`);
/** Polls until the namespace's Report exists and holds exactly `want` (entries, worst first). */
const reportHolds = (namespace: string, want: string[], ms = 60_000) =>
  eventually(
    `${namespace}'s Report holding ${JSON.stringify(want)}`,
    async () => {
      const r = await report(namespace);
      return r !== undefined && JSON.stringify(entries(r)) === JSON.stringify(want);
    },
    ms,
    250,
  );

let rbac: Rendered[] = [];
const replicas: Meshguard[] = [];

beforeAll(async () => {
  // The point: these objects never met meshguard's webhooks.
  const hooks = [...(await admission.listMutatingWebhookConfiguration()).items, ...(await admission.listValidatingWebhookConfiguration()).items];
  expect(hooks.map((h) => h.metadata?.name).filter((n) => n?.includes('meshguard'))).toEqual([]);
  // meshguard never installs the report CRDs; the operator does (README "Reports"). Only the API used here.
  await installCrds({ apiPort: cp.apiPort, token: cp.token, ca: readFileSync(cp.caFile, 'utf8') }, fileURLToPath(new URL('./report-crds', import.meta.url)), /^openreports\.io_/);

  await createNamespace(cp, NS.drift, { 'meshguard.io/default-mode': 'ambient' });
  await createNamespace(cp, NS.policy, { 'istio.io/dataplane-mode': 'ambient' });
  await createSidecarPods(cp, NS.drift, ['web-6b8d7-aaaaa', 'web-6b8d7-bbbbb']);
  await createServiceUsingMissingWaypoint(cp, NS.policy);
  await createL7SelectorPolicy(cp, NS.policy);

  // The chart's ClusterRole and binding for reports.api=openreports, and a kubeconfig that acts as
  // the ServiceAccount they bind: whatever the replicas do, that role must allow.
  rbac = renderChart(cp.helm, { 'reports.api': 'openreports' }).filter((o) => o.kind === 'ClusterRole' || o.kind === 'ClusterRoleBinding');
  await apply(cp, rbac);
  const [sa] = rbac.find((o) => o.kind === 'ClusterRoleBinding')!.subjects;
  const config = JSON.parse(kc.exportConfig());
  config.users[0].user.as = `system:serviceaccount:${sa.namespace}:${sa.name}`;
  const kubeconfig = join(cp.dir, 'kubeconfig-meshguard-sa');
  writeFileSync(kubeconfig, JSON.stringify(config), { mode: 0o600 });

  for (const name of ['meshguard-reports-a', 'meshguard-reports-b']) replicas.push(await startMeshguard(cp, { name, kubeconfig, auditInterval: '2s', reports: 'openreports' }));
});

afterAll(async () => {
  for (const m of replicas) await m.stop();
  // Leave no reports and no grants behind for the other files (test/e2e/reports.test.ts counts what it writes).
  for (const o of rbac) await objects.delete({ apiVersion: o.apiVersion, kind: o.kind, metadata: { name: o.metadata!.name } }).catch(() => undefined);
  const left: any = await custom.listClusterCustomObject({ ...REPORTS, labelSelector: MANAGED });
  for (const r of left.items) await custom.deleteNamespacedCustomObject({ ...REPORTS, namespace: r.metadata.namespace, name: r.metadata.name });
  await custom.deleteClusterCustomObject({ group: api.group, version: api.version, plural: api.cluster.plural, name: 'meshguard-cluster' }).catch(() => undefined);
});

describe('meshguard serve --reports openreports, two replicas under the chart\'s ClusterRole', () => {
  it('writes a Report per namespace with the seeded violations by rule id, and a ClusterReport', async () => {
    await reportHolds(NS.drift, ['Deployment/web pod-mode-drift warn']);
    await reportHolds(NS.policy, ['AuthorizationPolicy/no-deletes authz-l7-needs-waypoint fail', 'Service/cart waypoint-missing fail']);
    expect((await report(NS.policy)).summary).toEqual({ pass: 0, fail: 2, warn: 0, error: 0, skip: 0 });
    const cluster: any = await custom.getClusterCustomObject({ group: api.group, version: api.version, plural: api.cluster.plural, name: 'meshguard-cluster' });
    expect(cluster.metadata.labels).toMatchObject({ 'app.kubernetes.io/managed-by': 'meshguard' });
    // The chart's role was enough: nothing was refused, by RBAC or otherwise.
    for (const m of replicas) expect(await m.metric('meshguard_audit_report_errors_total')).toBe(0);
  });

  it('fixing each object removes its entry at the next interval', async () => {
    await core.patchNamespacedService({ namespace: NS.policy, name: 'cart', body: { metadata: { labels: { 'istio.io/use-waypoint': null } } } }, mergePatch);
    await reportHolds(NS.policy, ['AuthorizationPolicy/no-deletes authz-l7-needs-waypoint fail'], 30_000);

    await makePolicyL4(cp, NS.policy);
    await reportHolds(NS.policy, [], 30_000);

    // The fix pod-mode-drift asks for: the workload's pods created again as meshguard's mutation makes them here.
    for (const name of ['web-6b8d7-aaaaa', 'web-6b8d7-bbbbb']) await core.deleteNamespacedPod({ name, namespace: NS.drift, gracePeriodSeconds: 0 });
    await core.createNamespacedPod({ namespace: NS.drift, body: ambientPod('web-6b8d7-ccccc') });
    await reportHolds(NS.drift, [], 30_000);
    expect((await report(NS.drift)).summary).toEqual({ pass: 0, fail: 0, warn: 0, error: 0, skip: 0 });
  });

  it('two replicas writing at once leave one correct set, owned by one field manager; a deleted report comes back', async () => {
    // Make a violation again, so both replicas have something to write at about the same time.
    await core.patchNamespacedService({ namespace: NS.policy, name: 'cart', body: { metadata: { labels: { 'istio.io/use-waypoint': 'waypoint' } } } }, mergePatch);
    await reportHolds(NS.policy, ['Service/cart waypoint-missing fail'], 30_000);
    await custom.deleteNamespacedCustomObject({ ...REPORTS, namespace: NS.drift, name: 'meshguard' });
    await reportHolds(NS.drift, [], 30_000);
    // Both replicas have audited (and written) several times by now.
    for (const m of replicas) {
      const runs = readFileSync(m.logFile, 'utf8').split('\n').filter((l) => l.includes('"background audit"'));
      expect(runs.length).toBeGreaterThanOrEqual(3);
    }

    const list: any = await custom.listClusterCustomObject({ ...REPORTS, labelSelector: MANAGED });
    const ours = list.items.filter((r: any) => Object.values(NS).includes(r.metadata.namespace));
    expect(ours.map((r: any) => `${r.metadata.namespace}/${r.metadata.name}`).sort()).toEqual([`${NS.drift}/meshguard`, `${NS.policy}/meshguard`]);
    const clusterReports: any = await custom.listClusterCustomObject({ group: api.group, version: api.version, plural: api.cluster.plural, labelSelector: MANAGED });
    expect(clusterReports.items.map((r: any) => r.metadata.name)).toEqual(['meshguard-cluster']);
    for (const r of [...list.items, ...clusterReports.items]) expect([...new Set(r.metadata.managedFields.map((f: any) => f.manager))]).toEqual(['meshguard']);
    for (const m of replicas) expect(await m.metric('meshguard_audit_report_errors_total')).toBe(0);
  });
});
