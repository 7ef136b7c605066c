// The cluster reader (src/cluster/read.ts) against the real kube-apiserver: paged LISTs, the
// snapshot filled before objects are handed over, and a kind that is not served.
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { listPages } from '../../src/cluster/list-pages.js';
import { readLiveCluster } from '../../src/cluster/read.js';
import { clients } from './control-plane.js';
import { createNamespace } from './meshguard-process.js';

const cp = inject('controlPlane');
const { core, custom, kc } = clients(cp);
const NS = { pods: 'rdr-pods', policies: 'rdr-policies' } as const;

beforeAll(async () => {
  await createNamespace(cp, NS.pods);
  await createNamespace(cp, NS.policies);
  for (const name of ['web-6b8d7-aaaaa', 'web-6b8d7-bbbbb', 'web-6b8d7-ccccc']) {
    await core.createNamespacedPod({ namespace: NS.pods, body: { apiVersion: 'v1', kind: 'Pod', metadata: { name }, spec: { containers: [{ name: 'app', image: 'app:1' }] } } });
  }
  await core.createNamespacedService({ namespace: NS.policies, body: { apiVersion: 'v1', kind: 'Service', metadata: { name: 'cart' }, spec: { ports: [{ port: 80 }] } } });
  await custom.createNamespacedCustomObject({
    group: 'security.istio.io',
    version: 'v1',
    plural: 'authorizationpolicies',
    namespace: NS.policies,
    body: { apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: 'no-deletes' }, spec: { action: 'DENY', rules: [{ to: [{ operation: { methods: ['DELETE'] } }] }] } },
  });
});

describe('the cluster reader', () => {
  it('pages with limit and continue: every object once, in pages of the given size', async () => {
    const pages: number[] = [];
    const names: string[] = [];
    for await (const page of listPages(kc, `/api/v1/namespaces/${NS.pods}/pods`, { pageSize: 2 })) {
      pages.push(page.length);
      names.push(...page.map((p) => p.metadata?.name ?? ''));
    }
    expect(pages).toEqual([2, 1]);
    expect(names.sort()).toEqual(['web-6b8d7-aaaaa', 'web-6b8d7-bbbbb', 'web-6b8d7-ccccc']);
  });

  it('a kind whose API is not served (CRD missing) fails as not-served', async () => {
    await expect(listPages(kc, '/apis/example.meshguard.io/v1/widgets').next()).rejects.toMatchObject({ reason: 'not-served' });
  });

  it('fills the snapshot before handing over objects, with apiVersion and kind on every item', async () => {
    const read = await readLiveCluster(kc, { namespaces: [NS.policies], pageSize: 1 });
    expect(read.snapshot.service(NS.policies, 'cart')).toBeDefined();
    expect(read.snapshot.namespace(NS.pods)).toBeDefined();
    const seen: string[] = [];
    for await (const page of read.objects()) for (const { object } of page) seen.push(`${object.apiVersion} ${object.kind} ${object.metadata?.name}`);
    expect(seen).toEqual([`v1 Namespace ${NS.policies}`, 'v1 Service cart', 'security.istio.io/v1 AuthorizationPolicy no-deletes']);
    expect(read.errors).toEqual([]);
  });
});
