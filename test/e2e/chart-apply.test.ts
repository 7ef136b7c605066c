// Every object `helm template` renders, server-side applied in dry-run against a real kube-apiserver
// 1.34: its defaulting, schema and CEL checks are the test. Nothing is persisted.
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { apiCode, apiMessage, clients } from './control-plane.js';
import { ensureNamespace } from './meshguard-process.js';
import { apply, RELEASE_NAMESPACE, renderChart, type Rendered } from './webhooks.js';

const cp = inject('controlPlane');
const { objects: api } = clients(cp);

const id = (o: Rendered) => `${o.kind} ${o.metadata?.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata?.name}`;

/** Dry-run server-side applies each object; returns the failures (kind, name, API server message). */
async function dryRunApply(objects: Rendered[]): Promise<string[]> {
  const failures: string[] = [];
  for (const o of objects) {
    try {
      const [result] = await apply(cp, [o], { dryRun: true });
      expect(result.kind).toBe(o.kind);
      expect(result.metadata?.name).toBe(o.metadata?.name);
    } catch (err) {
      failures.push(`${id(o)}: ${apiMessage(err)}`);
    }
  }
  return failures;
}

/** Each object's resourceVersion as stored now, or 404. */
async function stored(objects: Rendered[]): Promise<Record<string, string | number | undefined>> {
  const out: Record<string, string | number | undefined> = {};
  for (const o of objects) {
    out[id(o)] = await api.read({ apiVersion: o.apiVersion!, kind: o.kind!, metadata: { name: o.metadata!.name!, namespace: o.metadata?.namespace } }).then(
      (found) => found.metadata?.resourceVersion,
      (err) => apiCode(err),
    );
  }
  return out;
}

/** Dry-run applies `objects`, expecting every one accepted and nothing stored or changed. */
async function expectAccepted(objects: Rendered[]) {
  const before = await stored(objects);
  expect(await dryRunApply(objects)).toEqual([]);
  expect(await stored(objects)).toEqual(before);
}

beforeAll(async () => {
  // As `helm install --create-namespace` would; namespaced objects are refused without it.
  await ensureNamespace(cp, RELEASE_NAMESPACE);
});

describe('10. the rendered chart, server-side dry-run applied', () => {
  it('default values: every object is accepted', async () => {
    const objects = renderChart(cp.helm);
    expect(objects.map((o) => o.kind)).toEqual(expect.arrayContaining(['Deployment', 'Service', 'MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration', 'Secret']));
    await expectAccepted(objects);
  });

  it('the dry run does check: a webhook configuration with a broken CEL matchCondition is refused', async () => {
    const validating = renderChart(cp.helm).find((o) => o.kind === 'ValidatingWebhookConfiguration')!;
    const broken = structuredClone(validating);
    broken.webhooks[0].matchConditions[0].expression = 'object.metadata.labels ==';
    const [failure, ...more] = await dryRunApply([broken]);
    expect(more).toEqual([]);
    expect(failure).toMatch(/matchConditions\[0\]\.expression.*compilation failed/);
  });

  it('tls.mode=cert-manager: every object but the cert-manager.io ones is accepted', async () => {
    const objects = renderChart(cp.helm, { 'tls.mode': 'cert-manager' });
    // cert-manager's CRDs (Issuer, Certificate) are not installed on this API server, so those
    // objects cannot be applied, even in dry-run; everything else must be.
    const certManager = objects.filter((o) => o.apiVersion?.startsWith('cert-manager.io/'));
    expect(certManager.map((o) => o.kind).sort()).toEqual(['Certificate', 'Certificate', 'Issuer', 'Issuer']);
    const rest = objects.filter((o) => !certManager.includes(o));
    expect(rest.filter((o) => o.kind?.endsWith('WebhookConfiguration'))).toHaveLength(2);
    await expectAccepted(rest);
  });

  it('policy, dashboard and opt-out: the optional objects are accepted too (ServiceMonitor left off: its CRD is not installed)', async () => {
    const objects = renderChart(cp.helm, {
      'policy.clusterDefaultMode': 'sidecar',
      'metrics.dashboard.enabled': 'true',
      'webhook.namespaceSelection': 'opt-out',
      replicaCount: '1',
    });
    expect(objects.filter((o) => o.kind === 'ConfigMap')).toHaveLength(2);
    await expectAccepted(objects);
  });
});
