// The chart's root-namespace entry (root-policies.validate.meshguard.io) on a real kube-apiserver:
// an AuthorizationPolicy in Istio's root namespace without a selector is mesh-wide (scope GLOBAL in
// convertAuthorizationPolicy, pilot/pkg/serviceregistry/ambient/authorization.go), so an L7 one
// reaches ztunnel and is denied once any namespace is ambient; every other istio-system object
// stays outside the webhooks.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { clients, eventually, rejection } from './control-plane.js';
import { createNamespace, ensureNamespace, meshguardWithWebhooks } from './meshguard-process.js';

const cp = inject('controlPlane');
const { core, custom } = clients(cp);
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

const ROOT = 'istio-system';
const AMBIENT = 'root-ambient';
const AP = { group: 'security.istio.io', version: 'v1', plural: 'authorizationpolicies' };
const VS = { group: 'networking.istio.io', version: 'v1', plural: 'virtualservices' };

const denied = (webhook: string, rule: string) => new RegExp(`^admission webhook "${webhook.replace(/\./g, '\\.')}" denied the request: \\[${rule}\\] `);

const create = (r: typeof AP, namespace: string, body: Record<string, unknown>) =>
  custom.createNamespacedCustomObject({ ...r, namespace, body: { apiVersion: `${r.group}/${r.version}`, ...body }, dryRun: 'All' });

/** No selector, no targetRefs: in the root namespace, a policy for every workload of the mesh. */
const meshWide = (name: string, rules: unknown[]) => ({ kind: 'AuthorizationPolicy', metadata: { name }, spec: { action: 'ALLOW', rules } });
const L7 = [{ to: [{ operation: { methods: ['GET'] } }] }];
const L4 = [{ from: [{ source: { namespaces: [AMBIENT] } }] }];

const lookahead = {
  kind: 'VirtualService',
  metadata: { name: 'lookahead' },
  spec: { hosts: ['reviews'], http: [{ match: [{ uri: { regex: '/(?!internal).*' } }], route: [{ destination: { host: 'reviews' } }] }] },
};
const missingWaypoint = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'uses-missing', labels: { 'istio.io/use-waypoint': 'no-such-waypoint' } }, spec: { ports: [{ port: 80 }] } };

let env: Awaited<ReturnType<typeof meshguardWithWebhooks>>;
beforeAll(async () => {
  // Nothing is ambient by default here, so only the ambient namespace below makes the mesh ambient.
  const policy = join(cp.dir, 'root-policies-policy.yaml');
  writeFileSync(policy, 'clusterDefaultMode: sidecar\n');
  env = await meshguardWithWebhooks(cp, {}, { name: 'meshguard-root', policy });
  await ensureNamespace(cp, ROOT);
  await createNamespace(cp, AMBIENT, { 'meshguard.io/enforcement': 'enforce', 'istio.io/dataplane-mode': 'ambient' });
});
afterAll(async () => {
  await env?.close();
});

describe("the chart's root-namespace entry", () => {
  it('denies an L7 mesh-wide AuthorizationPolicy in the root namespace once a namespace is ambient; admits an L4 one', async () => {
    // meshguard's Namespace cache sees the ambient namespace a moment after it is created.
    const message = await eventually('the L7 mesh-wide policy to be denied', async () => rejection(create(AP, ROOT, meshWide('mesh-l7', L7))).catch(() => false));
    expect(message).toMatch(denied('root-policies.validate.meshguard.io', 'authz-l7-needs-waypoint'));
    expect(message).toContain(`in the root namespace "${ROOT}" without a selector this policy is mesh-wide`);
    await expect(create(AP, ROOT, meshWide('mesh-l4', L4))).resolves.toMatchObject({ metadata: { name: 'mesh-l4' } });
  });

  it('leaves the root namespace out when it is labelled meshguard.io/enforcement=off', async () => {
    const label = (value: string | null) => core.patchNamespace({ name: ROOT, body: { metadata: { labels: { 'meshguard.io/enforcement': value } } } }, mergePatch);
    await label('off');
    try {
      await eventually('the labelled-off root namespace to be skipped', async () => create(AP, ROOT, meshWide('mesh-l7', L7)).then(() => true, () => false));
    } finally {
      await label(null);
    }
  });

  it('sends no other istio-system object to meshguard: what is denied in an opted-in namespace is admitted there', async () => {
    expect(await rejection(create(VS, AMBIENT, lookahead))).toMatch(denied('validate.meshguard.io', 'regex-invalid'));
    await expect(create(VS, ROOT, lookahead)).resolves.toMatchObject({ metadata: { name: 'lookahead' } });

    expect(await rejection(core.createNamespacedService({ namespace: AMBIENT, body: missingWaypoint, dryRun: 'All' }))).toMatch(
      denied('services.validate.meshguard.io', 'waypoint-missing'),
    );
    await expect(core.createNamespacedService({ namespace: ROOT, body: missingWaypoint, dryRun: 'All' })).resolves.toMatchObject({ metadata: { name: 'uses-missing' } });
  });
});
