import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { manifestFiles, parseManifests, readManifests } from '../../../src/cluster/from-files.js';
import { storeFromManifests } from '../../../src/cluster/from-files.js';
import { checkManifests } from '../../../src/check/run.js';
import { parseApiVersion } from '../../../src/kube.js';
import { loadPolicyFile } from '../../../src/policy/load.js';
import { RULE_IDS } from '../../../src/rules.js';
import { validateObject } from '../../../src/validate/index.js';

const policy = loadPolicyFile();
const check = (yaml: string) => checkManifests(parseManifests(yaml, 'inline.yaml'), policy);

describe('the corpus of valid configuration', () => {
  it('checks clean: no findings, and every pod ambient', () => {
    const report = checkManifests(readManifests(['examples/corpus']), policy);
    expect(report.findings).toEqual([]);
    expect(report.summary).toMatchObject({ errors: 0, warnings: 0, skipped: 0, ignored: 0 });
    expect(report.summary.documents).toBeGreaterThan(25);
    expect(report.modes.map((m) => `${m.kind}/${m.name}=${m.mode}`)).toEqual([
      'Deployment/details-v1=ambient',
      'Deployment/ratings-v1=ambient',
      'Deployment/reviews-v1=ambient',
      'Deployment/reviews-v2=ambient',
      'Deployment/reviews-v3=ambient',
      'Deployment/productpage-v1=ambient',
      'Job/ratings-db-migrate=ambient',
    ]);
  });

  it('passes every validator through the whole dispatch, object by object', () => {
    const docs = readManifests(['examples/corpus']);
    const snapshot = storeFromManifests(docs);
    for (const { object } of docs) {
      const { group, version } = parseApiVersion(object.apiVersion);
      const namespace = object.kind === 'Namespace' ? undefined : object.metadata?.namespace;
      const input = { operation: 'CREATE' as const, group, version, kind: object.kind!, namespace, name: object.metadata?.name, object };
      expect(validateObject(input, snapshot, policy), `${object.kind} ${object.metadata?.name}`).toEqual([]);
    }
  });
});

/** The rules a bad example says it shows, from its `# expect:` comment lines. */
function expectedRules(file: string): string[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.startsWith('# expect:'))
    .flatMap((line) => line.slice('# expect:'.length).split(','))
    .map((rule) => rule.trim())
    .filter(Boolean)
    .sort();
}

describe('the bad examples', () => {
  const files = manifestFiles(['examples/bad']);

  it('cover every rule except those only an UPDATE or DELETE can break, pod-mode-drift (running pods only) and object-budget-exceeded (over 50,000 entries: its unit test builds one)', () => {
    const shown = new Set(files.flatMap(expectedRules));
    expect(RULE_IDS.filter((rule) => !shown.has(rule))).toEqual(['decision-annotation-reserved', 'pod-mode-drift', 'object-budget-exceeded', 'waypoint-in-use']);
  });

  it.each(files)('%s shows exactly the rules it names', (file) => {
    const report = checkManifests(readManifests([file]), policy);
    const found = [...new Set(report.findings.map((f) => f.rule))].sort();
    expect(found).toEqual(expectedRules(file));
    for (const f of report.findings) expect(f.message.startsWith(`[${f.rule}] `)).toBe(true);
  });

  it('together have errors', () => {
    expect(checkManifests(readManifests(['examples/bad']), policy).summary.errors).toBeGreaterThan(0);
  });
});

describe('pod templates', () => {
  const workloads = `
apiVersion: v1
kind: Namespace
metadata: {name: legacy, labels: {istio-injection: enabled}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: legacy}
spec: {template: {metadata: {labels: {app: web}}, spec: {containers: [{name: web, image: web:1}]}}}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: legacy}
spec: {template: {spec: {containers: [{name: db, image: db:1}]}}}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: legacy}
spec: {template: {spec: {containers: [{name: agent, image: agent:1}]}}}
---
apiVersion: batch/v1
kind: Job
metadata: {name: migrate, namespace: legacy}
spec: {template: {spec: {restartPolicy: Never, containers: [{name: m, image: m:1}]}}}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly, namespace: legacy}
spec: {schedule: "0 1 * * *", jobTemplate: {spec: {template: {spec: {restartPolicy: Never, containers: [{name: n, image: n:1}]}}}}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: host-agent}
spec: {template: {spec: {hostNetwork: true, containers: [{name: a, image: a:1}]}}}
---
apiVersion: v1
kind: Pod
metadata: {name: debug, namespace: legacy}
spec: {containers: [{name: d, image: d:1}]}
`;

  it.each([
    ['Deployment', 'web', 'spec.template', 'sidecar', 'namespace-default'],
    ['StatefulSet', 'db', 'spec.template', 'sidecar', 'namespace-default'],
    ['DaemonSet', 'agent', 'spec.template', 'ambient', 'no-sidecar-for-jobs'],
    ['Job', 'migrate', 'spec.template', 'ambient', 'no-sidecar-for-jobs'],
    ['CronJob', 'nightly', 'spec.jobTemplate.spec.template', 'ambient', 'no-sidecar-for-jobs'],
    ['Deployment', 'host-agent', 'spec.template', 'none', 'host-network'],
    ['Pod', 'debug', '', 'sidecar', 'namespace-default'],
  ])('%s %s (%s) gets %s by %s', (kind, name, path, mode, rule) => {
    const report = check(workloads);
    expect(report.modes.find((m) => m.kind === kind && m.name === name)).toMatchObject({ path, mode, rule });
  });

  it('the default namespace with cluster defaults when the input has no Namespace', () => {
    const report = check(workloads.split('---').slice(6).join('---'));
    expect(report.modes[0]).toMatchObject({ name: 'host-agent', namespace: 'default', mode: 'none' });
    expect(report.modes[1]).toMatchObject({ name: 'debug', namespace: 'legacy', mode: policy.clusterDefaultMode });
  });

  it('reports template findings at the template path and line, validated as the Pod it becomes', () => {
    const report = check(`apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  template:
    metadata:
      labels:
        istio.io/dataplane-mode: sidecar
        istio.io/use-waypoint: waypiont
    spec: {containers: [{name: web, image: web:1}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint, namespace: shop}
spec: {gatewayClassName: istio-waypoint, listeners: [{name: mesh, port: 15008, protocol: HBONE}]}
`);
    expect(report.findings.map((f) => [f.rule, f.path, f.line])).toEqual([
      ['waypoint-missing', 'spec.template.metadata.labels["istio.io/use-waypoint"]', 9],
      ['dataplane-mode-invalid', 'spec.template.metadata.labels["istio.io/dataplane-mode"]', 8],
    ]);
  });
});

describe('input handling', () => {
  it('flattens List kinds and keeps their document index', () => {
    const report = check(`apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Namespace
  metadata: {name: shop, labels: {istio.io/dataplane-mode: ambient}}
- apiVersion: v1
  kind: Pod
  metadata: {name: p, namespace: shop, labels: {istio.io/dataplane-mode: sidecar}}
---
apiVersion: v1
kind: ServiceList
items:
- apiVersion: v1
  kind: Service
  metadata: {name: s, namespace: shop}
`);
    expect(report.summary.documents).toBe(3);
    expect(report.modes).toMatchObject([{ kind: 'Pod', name: 'p', document: 0, mode: 'ambient' }]);
    expect(report.findings).toMatchObject([{ rule: 'dataplane-mode-invalid', document: 0, line: 9 }]);
  });

  it('skips objects in namespaces with meshguard.io/enforcement=off, and such Namespaces', () => {
    const report = check(`apiVersion: v1
kind: Namespace
metadata: {name: sandbox, labels: {meshguard.io/enforcement: "off", istio.io/dataplane-mode: bogus}}
---
apiVersion: v1
kind: Pod
metadata: {name: p, namespace: sandbox, labels: {istio.io/dataplane-mode: sidecar}}
`);
    expect(report.findings).toEqual([]);
    expect(report.modes).toEqual([]);
    expect(report.summary).toMatchObject({ documents: 2, skipped: 2 });
  });

  it('ignores documents that are not Kubernetes objects', () => {
    const report = check('repos: []\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n');
    expect(report.summary).toMatchObject({ documents: 1, ignored: 1 });
  });

  it.each([
    ['without any Gateway in the input, use-waypoint is not judged', '', []],
    [
      'with a Gateway in the input, a missing waypoint is reported',
      `---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: ingress, namespace: shop}
spec: {gatewayClassName: istio, listeners: [{name: http, port: 80, protocol: HTTP}]}
`,
      ['waypoint-missing'],
    ],
  ])('%s', (_, extra, rules) => {
    const report = check(`apiVersion: v1
kind: Service
metadata: {name: s, namespace: shop, labels: {istio.io/use-waypoint: waypoint}}
${extra}`);
    expect(report.findings.map((f) => f.rule)).toEqual(rules);
  });
});
