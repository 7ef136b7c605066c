import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { auditCluster } from '../../../src/cluster-audit/run.js';
import { checkManifests } from '../../../src/check/run.js';
import { readManifests } from '../../../src/cluster/from-files.js';
import { readClusterFiles, type ReadObject } from '../../../src/cluster/read.js';
import { RESOURCES } from '../../../src/cluster/resources.js';
import { parseApiVersion } from '../../../src/kube.js';
import { policy } from '../../helpers/objects.js';

const dir = mkdtempSync(join(tmpdir(), 'meshguard-audit-'));
let n = 0;
/** A cluster dump in one file. */
function cluster(yaml: string) {
  const file = join(dir, `cluster-${++n}.yaml`);
  writeFileSync(file, yaml);
  return readClusterFiles([file]);
}

const ns = (name: string, labels: Record<string, string>) =>
  `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${name}\n  labels: ${JSON.stringify(labels)}\n---\n`;

/** A running pod of a Deployment (through its ReplicaSet), with or without Istio's sidecar. */
const deploymentPod = (namespace: string, deployment: string, i: number, sidecar: boolean) => `apiVersion: v1
kind: Pod
metadata:
  name: ${deployment}-5f7b9-${i}
  namespace: ${namespace}
  labels: {app: ${deployment}, pod-template-hash: 5f7b9}
  ownerReferences: [{apiVersion: apps/v1, kind: ReplicaSet, name: ${deployment}-5f7b9, controller: true, uid: u}]
spec:
  containers: [{name: app, image: app}${sidecar ? ', {name: istio-proxy, image: proxyv2}' : ''}]
---
`;

describe('pod-mode-drift through auditCluster', () => {
  it.each([
    {
      name: 'sidecar pods in a namespace meshguard now puts in ambient: one finding per Deployment',
      yaml: ns('apps', { 'meshguard.io/default-mode': 'ambient' }) + [1, 2, 3].map((i) => deploymentPod('apps', 'web', i, true)).join('') + deploymentPod('apps', 'api', 1, true),
      drifts: [
        { kind: 'Deployment', name: 'api', pods: { count: 1, names: ['api-5f7b9-1'] } },
        { kind: 'Deployment', name: 'web', pods: { count: 3, names: ['web-5f7b9-1', 'web-5f7b9-2', 'web-5f7b9-3'] } },
      ],
      actual: { ambient: 0, sidecar: 4, none: 0 },
      decided: { ambient: 4, sidecar: 0, none: 0 },
    },
    {
      name: 'pods created while meshguard was down in a meshguard-only ambient namespace',
      yaml: ns('apps', { 'meshguard.io/default-mode': 'ambient' }) + deploymentPod('apps', 'web', 1, false),
      drifts: [{ kind: 'Deployment', name: 'web', pods: { count: 1, names: ['web-5f7b9-1'] } }],
      actual: { ambient: 0, sidecar: 0, none: 1 },
      decided: { ambient: 1, sidecar: 0, none: 0 },
    },
    {
      name: 'pods in the mode Istio gives them: no drift',
      yaml: ns('apps', { 'istio.io/dataplane-mode': 'ambient' }) + deploymentPod('apps', 'web', 1, false),
      drifts: [],
      actual: { ambient: 1, sidecar: 0, none: 0 },
      decided: { ambient: 1, sidecar: 0, none: 0 },
    },
    {
      name: 'sidecar namespace with sidecars: no drift',
      yaml: ns('apps', { 'istio-injection': 'enabled' }) + deploymentPod('apps', 'web', 1, true),
      drifts: [],
      actual: { ambient: 0, sidecar: 1, none: 0 },
      decided: { ambient: 0, sidecar: 1, none: 0 },
    },
    {
      name: 'enforcement off: skipped, not counted',
      yaml: ns('apps', { 'meshguard.io/default-mode': 'ambient', 'meshguard.io/enforcement': 'off' }) + deploymentPod('apps', 'web', 1, true),
      drifts: [],
      actual: { ambient: 0, sidecar: 0, none: 0 },
      decided: { ambient: 0, sidecar: 0, none: 0 },
    },
  ])('$name', async ({ yaml, drifts, actual, decided }) => {
    const report = await auditCluster(cluster(yaml), policy);
    const found = report.findings.filter((f) => f.rule === 'pod-mode-drift').map(({ kind, name, pods }) => ({ kind, name, pods }));
    expect(found).toEqual(drifts);
    expect(report.summary.pods).toEqual({ actual, decided });
  });

  it('reports a drifted pod without an owner by itself, with the fix and what the webhook would do', async () => {
    const yaml = `${ns('apps', { 'meshguard.io/default-mode': 'sidecar', 'meshguard.io/enforcement': 'warn' })}apiVersion: v1
kind: Pod
metadata: {name: lonely, namespace: apps}
spec: {containers: [{name: app, image: app}]}
`;
    const report = await auditCluster(cluster(yaml), policy);
    expect(report.findings).toEqual([
      expect.objectContaining({
        rule: 'pod-mode-drift',
        severity: 'warning',
        result: 'warned',
        apiVersion: 'v1',
        kind: 'Pod',
        namespace: 'apps',
        name: 'lonely',
        pods: { count: 1, names: ['lonely'] },
        message: expect.stringContaining('restart pod apps/lonely (delete it and create it again)'),
      }),
    ]);
  });

  it('judges an audit-enforcement namespace too (result logged), since reporting is the point', async () => {
    const yaml = `${ns('apps', { 'meshguard.io/enforcement': 'audit', 'istio.io/dataplane-mode': 'ambient' })}apiVersion: v1
kind: Service
metadata: {name: cart, namespace: apps, labels: {istio.io/use-waypoint: missing}}
`;
    const report = await auditCluster(cluster(yaml), policy);
    expect(report.findings.map((f) => [f.rule, f.result])).toEqual([['waypoint-missing', 'logged']]);
    expect(report.summary).toMatchObject({ errors: 1, skipped: 0, objects: { Namespace: 1, Service: 1 } });
  });
});

describe('what report objects are written from', () => {
  it('namespaces with judged objects (not skipped ones), and uids: the object\'s, the owner\'s for drift when known', async () => {
    const yaml = `${ns('apps', { 'meshguard.io/default-mode': 'ambient' })}${ns('quiet', { 'istio.io/dataplane-mode': 'ambient' })}${ns('off', { 'meshguard.io/enforcement': 'off' })}apiVersion: v1
kind: Service
metadata: {name: cart, namespace: apps, uid: svc-uid, labels: {istio.io/use-waypoint: missing}}
---
apiVersion: v1
kind: Service
metadata: {name: ok, namespace: quiet}
---
apiVersion: v1
kind: Service
metadata: {name: ignored, namespace: off, labels: {istio.io/use-waypoint: missing}}
---
apiVersion: v1
kind: Pod
metadata: {name: db-0, namespace: apps, uid: pod-uid, ownerReferences: [{apiVersion: apps/v1, kind: StatefulSet, name: db, uid: sts-uid, controller: true}]}
spec: {containers: [{name: app, image: app}, {name: istio-proxy, image: proxyv2}]}
---
${deploymentPod('apps', 'web', 1, true)}`;
    const report = await auditCluster(cluster(yaml), policy);
    expect(report.namespaces).toEqual(['apps', 'quiet']);
    expect(report.findings.map((f) => `${f.kind}/${f.name} ${f.rule} ${f.uid}`)).toEqual([
      'Deployment/web pod-mode-drift undefined',
      'Service/cart waypoint-missing svc-uid',
      'StatefulSet/db pod-mode-drift sts-uid',
    ]);
  });
});

describe('audit and check agree: the same rule functions', () => {
  it('every object of an audited kind in examples/bad gets the findings check gives it', async () => {
    const report = await auditCluster(readClusterFiles(['examples/bad']), policy);
    const audited = (kind: string, apiVersion: string) => RESOURCES.some((r) => r.kind === kind && r.group === parseApiVersion(apiVersion).group);
    const checked = checkManifests(readManifests(['examples/bad']), policy)
      .findings.filter((f) => audited(f.kind, readManifests([f.file])[f.document]?.object.apiVersion ?? ''))
      .map((f) => `${f.kind} ${f.namespace}/${f.name} ${f.rule} ${f.path} ${f.line}`)
      .sort();
    const found = report.findings.map((f) => `${f.kind} ${f.namespace}/${f.name} ${f.rule} ${f.path} ${f.line}`).sort();
    expect(found.length).toBeGreaterThan(15);
    expect(found).toEqual(checked);
  });
});

describe('read errors', () => {
  it('a report is complete only without read errors', async () => {
    const read = cluster(ns('apps', {}));
    read.errors.push({ resource: 'Sidecar.networking.istio.io', kind: 'Sidecar', group: 'networking.istio.io', reason: 'forbidden', message: 'sidecars is forbidden' });
    const report = await auditCluster(read, policy);
    expect(report.complete).toBe(false);
    expect(report.readErrors).toHaveLength(1);
  });
});

describe('auditCluster hands the event loop back on a time budget', () => {
  it.each([
    // [sliceMs, ms each object takes, objects]: the loop gets a turn once per slice of evaluation,
    // however many objects that is (a count of 200 objects had taken 5 ms of CPU, tens of ms of wall time under load).
    { sliceMs: 2, msPerObject: 1, objects: 100, turnsAtLeast: 45 },
    { sliceMs: 10, msPerObject: 1, objects: 100, turnsAtLeast: 9 },
    { sliceMs: 2, msPerObject: 5, objects: 20, turnsAtLeast: 19 },
  ])('slice $sliceMs ms, $msPerObject ms per object: at least $turnsAtLeast turns over $objects objects', async ({ sliceMs, msPerObject, objects, turnsAtLeast }) => {
    const base = cluster(ns('apps', {}) + Array.from({ length: objects }, (_, i) => `apiVersion: v1\nkind: Service\nmetadata: {name: s${i}, namespace: apps}\nspec: {ports: [{port: 80}]}\n---\n`).join(''));
    const pages: ReadObject[][] = [];
    for await (const page of base.objects()) pages.push(page);
    const items = pages.flat().filter((o) => o.resource.kind === 'Service');
    // Each object served moves the clock on by msPerObject: the audit's cost, as performance.now sees it.
    let now = 0;
    const clock = vi.spyOn(performance, 'now').mockImplementation(() => now);
    let served = 0;
    const read = {
      ...base,
      // eslint-disable-next-line @typescript-eslint/require-await
      async *objects() {
        for (const item of items) {
          now += msPerObject;
          served++;
          yield [item];
        }
      },
    };
    // Another event-loop user: counts the turns it gets while the audit is still serving objects.
    const seenAt: number[] = [];
    let done = false;
    const tick = () => {
      if (done) return;
      if (served < objects) seenAt.push(served);
      setImmediate(tick);
    };
    setImmediate(tick);
    try {
      const report = await auditCluster(read, policy, { sliceMs });
      expect(report.summary.objects.Service).toBe(objects);
    } finally {
      done = true;
      clock.mockRestore();
    }
    expect(seenAt.length).toBeGreaterThanOrEqual(turnsAtLeast);
  });
});
