import { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { SNAPSHOT_RESOURCES } from '../../src/cluster/informers.js';
import { listResource, watchResource, type ResourceState, type WatchedResource } from '../../src/cluster/reader.js';
import { ClusterStore } from '../../src/cluster/snapshot.js';
import type { KubeObject } from '../../src/kube.js';
import { clients, eventually, type Clients } from './control-plane.js';

// The list/watch reader behind live mode (src/cluster/reader.ts) against the real kube-apiserver:
// paged LISTs, metadata-only reads, watch events, and an API that appears after start.

const NS = 'reader-e2e';
const log = pino({ level: process.env.DEBUG_LOG ? 'debug' : 'silent' });
let c: Clients;
let kc: KubeConfig;
const stops: Array<() => void> = [];

const service = (name: string, labels: Record<string, string> = {}) => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name, labels, annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{"a":"large copy"}', note: 'kept' } },
  spec: { clusterIP: 'None', selector: { app: name }, ports: [{ port: 80 }] },
});

beforeAll(async () => {
  c = clients(inject('controlPlane'));
  kc = c.kc;
  await c.core.createNamespace({ body: { metadata: { name: NS, labels: { team: 'reader' } } } });
  for (let i = 0; i < 5; i++) await c.core.createNamespacedService({ namespace: NS, body: service(`svc-${i}`, { app: `a${i}` }) });
});

afterAll(() => {
  for (const stop of stops) stop();
});

describe('listResource', () => {
  it('pages through a LIST (limit/continue) and returns every object, trimmed as the snapshot keeps it', async () => {
    const { items, resourceVersion } = await listResource(kc, SNAPSHOT_RESOURCES.Service, { pageSize: 2 });
    expect(resourceVersion).toMatch(/^\d+$/);
    const ours = items.filter((s) => s.metadata?.namespace === NS);
    expect(ours.map((s) => s.metadata?.name).sort()).toEqual(['svc-0', 'svc-1', 'svc-2', 'svc-3', 'svc-4']);
    expect(ours[0]).toEqual({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: ours[0].metadata?.name, namespace: NS, labels: { app: expect.any(String) }, annotations: { note: 'kept' } },
      spec: { selector: { app: ours[0].metadata?.name } },
    });
  });

  it('asks for metadata only where that is enough (Namespaces): PartialObjectMetadata, without spec or status', async () => {
    const raw: KubeObject[] = [];
    const keepAll: WatchedResource = { ...SNAPSHOT_RESOURCES.Namespace, trim: (o) => (raw.push(o), o) };
    expect(keepAll.metadataOnly).toBe(true);
    await listResource(kc, keepAll);
    const one = raw.find((n) => n.metadata?.name === NS)!;
    expect(one).toMatchObject({ apiVersion: 'v1', kind: 'Namespace', metadata: { labels: { team: 'reader' } } });
    expect(one.spec).toBeUndefined();
    expect(one.status).toBeUndefined();
    // What the metadata-only answer still carries, and the snapshot's trim drops.
    expect(one.metadata?.managedFields?.length).toBeGreaterThan(0);
    // Without metadataOnly the same list carries spec and status.
    const full: KubeObject[] = [];
    await listResource(kc, { ...keepAll, metadataOnly: false, trim: (o) => (full.push(o), o) });
    expect(full.find((n) => n.metadata?.name === NS)?.status).toEqual({ phase: 'Active' });
  });

  it('rejects with the HTTP status when the API is not served', async () => {
    const missing: WatchedResource = { group: 'nothing.meshguard.io', version: 'v1', plural: 'things', kind: 'Thing', namespaced: true, trim: (o) => o };
    await expect(listResource(kc, missing)).rejects.toMatchObject({ status: 404 });
  });
});

describe('watchResource', () => {
  it('syncs after the LIST, then follows creates, label changes and deletes', async () => {
    const store = new ClusterStore();
    const states: ResourceState[] = [];
    const { stop } = watchResource(kc, SNAPSHOT_RESOURCES.Service, {
      replace: (items) => store.replace('Service', items),
      upsert: (o) => store.upsert(o),
      remove: (o) => store.remove('Service', o.metadata?.namespace, o.metadata?.name ?? ''),
      state: (s) => states.push(s),
    }, log);
    stops.push(stop);
    await eventually('synced', () => Promise.resolve(states.includes('synced')));
    expect(store.service(NS, 'svc-3')?.metadata?.labels).toEqual({ app: 'a3' });

    await c.core.createNamespacedService({ namespace: NS, body: service('late', { 'istio.io/use-waypoint': 'wp' }) });
    await eventually('the new Service', () => Promise.resolve(store.service(NS, 'late') !== undefined));
    expect(store.waypointReferrers(NS, 'wp')).toEqual([{ kind: 'Service', namespace: NS, name: 'late' }]);

    const patched = await c.raw('PATCH', `/api/v1/namespaces/${NS}/services/late`, { metadata: { labels: { 'istio.io/use-waypoint': 'other' } } }, 'application/merge-patch+json');
    expect(patched.status).toBe(200);
    await eventually('the label change', () => Promise.resolve(store.waypointReferrers(NS, 'other').length === 1));
    expect(store.waypointReferrers(NS, 'wp')).toEqual([]);

    await c.core.deleteNamespacedService({ namespace: NS, name: 'late' });
    await eventually('the delete', () => Promise.resolve(store.service(NS, 'late') === undefined));
    expect(states).toEqual(['synced']);
  });

  it('marks an API that is not served absent, and finds it once its CRD is installed', async () => {
    const group = 'reader.e2e.meshguard.io';
    const widgets: WatchedResource = { group, version: 'v1', plural: 'widgets', kind: 'Widget', namespaced: true, trim: (o) => o };
    const seen = new Map<string, KubeObject>();
    const states: ResourceState[] = [];
    const { stop } = watchResource(kc, widgets, {
      replace: (items) => {
        seen.clear();
        for (const o of items) seen.set(o.metadata!.name!, o);
      },
      upsert: (o) => seen.set(o.metadata!.name!, o),
      remove: (o) => seen.delete(o.metadata!.name!),
      state: (s) => states.push(s),
    }, log, { rediscoverMs: 250 });
    stops.push(stop);
    await eventually('absent', () => Promise.resolve(states.includes('absent')));

    const crd = {
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: `widgets.${group}` },
      spec: {
        group,
        names: { kind: 'Widget', plural: 'widgets', singular: 'widget', listKind: 'WidgetList' },
        scope: 'Namespaced',
        versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } }],
      },
    };
    await c.raw('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', crd);
    await eventually('synced once served', () => Promise.resolve(states.at(-1) === 'synced'), 30_000);
    const created = await eventually('a Widget created', async () => {
      const res = await c.raw('POST', `/apis/${group}/v1/namespaces/${NS}/widgets`, { apiVersion: `${group}/v1`, kind: 'Widget', metadata: { name: 'w1' }, spec: { size: 3 } });
      return res.status === 201;
    });
    expect(created).toBe(true);
    await eventually('the Widget watched', () => Promise.resolve(seen.get('w1')?.spec?.size === 3));
    expect(seen.get('w1')).toMatchObject({ apiVersion: `${group}/v1`, kind: 'Widget' });
    expect(states).toEqual(['absent', 'synced']);
    await c.raw('DELETE', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.${group}`);
  });
});
