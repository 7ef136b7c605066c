import { describe, expect, it } from 'vitest';
import { ClusterStore } from '../../../src/cluster/snapshot.js';
import type { KubeObject } from '../../../src/kube.js';
import { runningPodMode } from '../../../src/mutate/running-mode.js';

const ambientNs: KubeObject = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'a', labels: { 'istio.io/dataplane-mode': 'ambient' } } };
const plainNs: KubeObject = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'p' } };
const pod = (meta: Record<string, unknown>, spec: Record<string, unknown> = {}): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'x', ...meta },
  spec: { containers: [{ name: 'app' }], ...spec },
});

describe('runningPodMode (cni/pkg/util/podutil.go podHasSidecar)', () => {
  it.each([
    ['sidecar status annotation', pod({ annotations: { 'sidecar.istio.io/status': '{}' } }), ambientNs, 'sidecar'],
    ['istio-proxy container', pod({}, { containers: [{ name: 'app' }, { name: 'istio-proxy' }] }), plainNs, 'sidecar'],
    ['native sidecar in initContainers', pod({}, { initContainers: [{ name: 'istio-proxy' }] }), plainNs, 'sidecar'],
    ['hostNetwork in an ambient namespace', pod({}, { hostNetwork: true }), ambientNs, 'none'],
    ['pod label none in an ambient namespace', pod({ labels: { 'istio.io/dataplane-mode': 'none' } }), ambientNs, 'none'],
    ['pod label ambient', pod({ labels: { 'istio.io/dataplane-mode': 'ambient' } }), plainNs, 'ambient'],
    ['ambient namespace', pod({}), ambientNs, 'ambient'],
    ['nothing', pod({}), plainNs, 'none'],
    ['unknown namespace', pod({}), undefined, 'none'],
  ] as const)('%s -> %s', (_name, p, ns, mode) => {
    expect(runningPodMode(p, ns)).toBe(mode);
  });
});

describe('ClusterStore services(namespace)', () => {
  it('keeps each Service selector, drops the rest of its spec, and follows updates and deletes', () => {
    const svc = (name: string, selector?: Record<string, string>): KubeObject => ({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name, namespace: 'shop', managedFields: [{}] },
      spec: { ...(selector && { selector }), ports: [{ port: 80 }], clusterIP: '10.0.0.1' },
    });
    const store = new ClusterStore([svc('web', { app: 'web' }), svc('ext')]);
    expect(store.services('shop')).toEqual([
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'shop' }, spec: { selector: { app: 'web' } } },
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 'ext', namespace: 'shop' } },
    ]);
    store.upsert(svc('web', { app: 'web2' }));
    store.remove('Service', 'shop', 'ext');
    expect(store.services('shop').map((s) => s.spec)).toEqual([{ selector: { app: 'web2' } }]);
    expect(store.services('other')).toEqual([]);
  });
});
