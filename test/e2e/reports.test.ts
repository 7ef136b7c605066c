// Audit report objects on the real kube-apiserver, with the published report CRDs
// (test/e2e/report-crds): objects created while meshguard's webhooks were not installed are written
// as results with the right rule ids; a fixed object's result goes at the next write, a namespace
// left without judged objects loses its report; a missing CRD is logged once per kind and counted;
// two writers at once, and a report deleted behind a writer's back, converge on one correct set.
import { readFileSync } from 'node:fs';
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { REPORT_API, type ReportApi } from '../../src/cluster-audit/report-objects.js';
import { auditCluster } from '../../src/cluster-audit/run.js';
import { readLiveCluster } from '../../src/cluster/read.js';
import { ReportWriter } from '../../src/cluster/report-writer.js';
import { loadPolicyFile } from '../../src/policy/load.js';
import { clients, installCrds } from './control-plane.js';
import { createNamespace } from './meshguard-process.js';
import { createL7SelectorPolicy, createServiceUsingMissingWaypoint, createSidecarPods } from './seeded-violations.js';

const cp = inject('controlPlane');
const { core, custom, admission, kc } = clients(cp);
const policy = loadPolicyFile();
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
/** Sets (or with null removes) the Service's use-waypoint label. */
const useWaypoint = (namespace: string, name: string, value: string | null) =>
  core.patchNamespacedService({ namespace, name, body: { metadata: { labels: { 'istio.io/use-waypoint': value } } } }, mergePatch);
const REPORT_CRDS = fileURLToPath(new URL('./report-crds', import.meta.url));

const NS = { drift: 'rep-drift', policy: 'rep-policy', clean: 'rep-clean', gone: 'rep-gone' } as const;


/** One audit of the live cluster, as the background audit runs it, handed to a writer. */
async function auditAndWrite(writer: ReportWriter) {
  const report = await auditCluster(await readLiveCluster(kc), policy);
  return writer.write(report, { startedAt: Date.now() });
}

function capturingLog() {
  const lines: Array<Record<string, unknown>> = [];
  const log = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  return { log, lines };
}

/** meshguard's report in a namespace (or the cluster report), as the API server stores it. */
async function getReport(api: ReportApi, namespace?: string): Promise<any> {
  const kind = namespace ? api.namespaced : api.cluster;
  try {
    return namespace
      ? await custom.getNamespacedCustomObject({ group: api.group, version: api.version, plural: kind.plural, namespace, name: 'meshguard' })
      : await custom.getClusterCustomObject({ group: api.group, version: api.version, plural: kind.plural, name: 'meshguard-cluster' });
  } catch (err) {
    if ((err as { code?: number }).code === 404) return undefined;
    throw err;
  }
}

const entries = (report: any) => (report?.results ?? []).map((r: any) => `${r.resources[0].kind}/${r.resources[0].name} ${r.policy} ${r.result}`);

beforeAll(async () => {
  // The point: these objects never met meshguard's webhooks.
  const hooks = [...(await admission.listMutatingWebhookConfiguration()).items, ...(await admission.listValidatingWebhookConfiguration()).items];
  expect(hooks.map((h) => h.metadata?.name).filter((n) => n?.includes('meshguard'))).toEqual([]);

  await createNamespace(cp, NS.drift, { 'meshguard.io/default-mode': 'ambient' });
  await createNamespace(cp, NS.policy, { 'istio.io/dataplane-mode': 'ambient' });
  await createNamespace(cp, NS.clean, { 'istio.io/dataplane-mode': 'ambient' });
  await createNamespace(cp, NS.gone, { 'istio.io/dataplane-mode': 'ambient' });
  await createSidecarPods(cp, NS.drift, ['web-6b8d7-aaaaa', 'web-6b8d7-bbbbb']);
  await createServiceUsingMissingWaypoint(cp, NS.policy);
  await createL7SelectorPolicy(cp, NS.policy);
  await core.createNamespacedService({ namespace: NS.clean, body: { apiVersion: 'v1', kind: 'Service', metadata: { name: 'ok' }, spec: { ports: [{ port: 80 }] } } });
  await core.createNamespacedService({ namespace: NS.gone, body: { apiVersion: 'v1', kind: 'Service', metadata: { name: 'only' }, spec: { ports: [{ port: 80 }] } } });
});

describe('report writer against kube-apiserver', () => {
  it('a missing CRD: logged once per kind, counted each time, nothing thrown', async () => {
    const { log, lines } = capturingLog();
    const errors: string[] = [];
    const writer = new ReportWriter({ kc, api: REPORT_API.wgpolicyk8s, log, onError: (kind, reason) => errors.push(`${kind} ${reason}`) });
    for (let i = 0; i < 2; i++) expect(await auditAndWrite(writer)).toEqual({ applied: 0, unchanged: 0, deleted: 0, failed: 2 });
    expect(errors).toEqual(['ClusterPolicyReport not-served', 'PolicyReport not-served', 'ClusterPolicyReport not-served', 'PolicyReport not-served']);
    const warned = lines.filter((l) => l.level === 40).map((l) => l.msg);
    expect(warned).toEqual([
      expect.stringMatching(/^audit reports: cannot list clusterpolicyreports\.wgpolicyk8s\.io: the clusterpolicyreports\.wgpolicyk8s\.io CRD is not installed/),
      expect.stringMatching(/^audit reports: cannot list policyreports\.wgpolicyk8s\.io: the policyreports\.wgpolicyk8s\.io CRD is not installed/),
    ]);
  });

  describe.each([REPORT_API.openreports, REPORT_API.wgpolicyk8s])('$group/$version', (api) => {
    let writer: ReportWriter;
    beforeAll(async () => {
      // The other API's run (or test/e2e/serve-reports.test.ts) may have installed some already.
      await installCrds({ apiPort: cp.apiPort, token: cp.token, ca: readFileSync(cp.caFile, 'utf8') }, REPORT_CRDS);
      writer = new ReportWriter({ kc, api, log: capturingLog().log });
    });

    it('writes one report per namespace with the seeded problems by rule id, an empty one for a clean namespace, and a cluster report', async () => {
      const first = await auditAndWrite(writer);
      expect(first.failed).toBe(0);
      expect(first.applied).toBeGreaterThanOrEqual(5);
      expect(entries(await getReport(api, NS.drift))).toEqual(['Deployment/web pod-mode-drift warn']);
      expect(entries(await getReport(api, NS.policy))).toEqual(['AuthorizationPolicy/no-deletes authz-l7-needs-waypoint fail', 'Service/cart waypoint-missing fail']);
      const clean = await getReport(api, NS.clean);
      expect(clean.results ?? []).toEqual([]);
      expect(clean.summary).toEqual({ pass: 0, fail: 0, warn: 0, error: 0, skip: 0 });
      expect(await getReport(api)).toMatchObject({ kind: api.cluster.kind, metadata: { labels: { 'app.kubernetes.io/managed-by': 'meshguard' } } });

      const drift = (await getReport(api, NS.drift)).results[0];
      expect(drift).toMatchObject({
        source: 'meshguard',
        policy: 'pod-mode-drift',
        rule: 'pod-mode-drift',
        result: 'warn',
        severity: 'medium',
        resources: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', namespace: NS.drift }],
        properties: { path: 'metadata', admission: 'warned', pods: '2', podNames: 'web-6b8d7-aaaaa, web-6b8d7-bbbbb' },
        timestamp: { seconds: expect.any(Number), nanos: 0 },
      });
      expect(drift.message).toMatch(/^\[pod-mode-drift\] runs in sidecar mode/);
      const ap = (await getReport(api, NS.policy)).results[0];
      expect(ap.resources[0].uid).toMatch(/^[0-9a-f-]{36}$/);
      expect((await getReport(api, NS.policy)).summary).toEqual({ pass: 0, fail: 2, warn: 0, error: 0, skip: 0 });

      // Nothing changed: nothing written (the timestamps alone are not a change).
      const again = await auditAndWrite(writer);
      expect(again).toMatchObject({ applied: 0, deleted: 0, failed: 0 });
    });

    it('a fixed object loses its entry at the next write; a namespace left without judged objects loses its report', async () => {
      await useWaypoint(NS.policy, 'cart', null);
      await core.deleteNamespacedService({ namespace: NS.gone, name: 'only' });
      const outcome = await auditAndWrite(writer);
      expect(outcome).toMatchObject({ applied: 1, deleted: 1, failed: 0 });
      expect(entries(await getReport(api, NS.policy))).toEqual(['AuthorizationPolicy/no-deletes authz-l7-needs-waypoint fail']);
      expect(await getReport(api, NS.gone)).toBeUndefined();
      // Put back for the next API's run.
      await useWaypoint(NS.policy, 'cart', 'waypoint');
      await core.createNamespacedService({ namespace: NS.gone, body: { apiVersion: 'v1', kind: 'Service', metadata: { name: 'only' }, spec: { ports: [{ port: 80 }] } } });
    });

    it('two writers at once, then a report deleted behind their backs (a stale replica): one correct set at the next write', async () => {
      const other = new ReportWriter({ kc, api, log: capturingLog().log });
      const both = await Promise.all([auditAndWrite(writer), auditAndWrite(other)]);
      expect(both.map((o) => o.failed)).toEqual([0, 0]);
      await custom.deleteNamespacedCustomObject({ group: api.group, version: api.version, plural: api.namespaced.plural, namespace: NS.drift, name: 'meshguard' });
      await Promise.all([auditAndWrite(writer), auditAndWrite(other)]);

      const list: any = await custom.listClusterCustomObject({ group: api.group, version: api.version, plural: api.namespaced.plural, labelSelector: 'app.kubernetes.io/managed-by=meshguard' });
      const ours = list.items.filter((r: any) => Object.values(NS).includes(r.metadata.namespace));
      expect(ours.map((r: any) => `${r.metadata.namespace}/${r.metadata.name}`).sort()).toEqual([NS.clean, NS.drift, NS.gone, NS.policy].map((n) => `${n}/meshguard`));
      expect(entries(ours.find((r: any) => r.metadata.namespace === NS.drift))).toEqual(['Deployment/web pod-mode-drift warn']);
      expect(entries(ours.find((r: any) => r.metadata.namespace === NS.policy))).toEqual(['AuthorizationPolicy/no-deletes authz-l7-needs-waypoint fail', 'Service/cart waypoint-missing fail']);
      // One field manager owns them all: replicas apply as one.
      for (const r of ours) expect([...new Set(r.metadata.managedFields.map((m: any) => m.manager))]).toEqual(['meshguard']);
    });
  });
});
