// Builders for plan tests: a namespace of pods, Services and Istio objects, as a cluster would hold them.
import { ClusterStore } from '../../../src/cluster/snapshot.js';
import type { KubeObject } from '../../../src/kube.js';
import type { PlanInput } from '../../../src/plan/types.js';

type Labels = Record<string, string>;

export const ns = (name: string, labels: Labels = { 'istio-injection': 'enabled' }): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Namespace',
  metadata: { name, labels },
});

/** A pod of a Deployment (through its ReplicaSet), with or without Istio's sidecar. */
export function pod(
  namespace: string,
  app: string,
  i = 0,
  opts: { sidecar?: boolean; labels?: Labels; annotations?: Labels; resources?: Record<string, unknown>; node?: string } = {},
): KubeObject {
  const sidecar = opts.sidecar ?? true;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: `${app}-5d9f7c-${i}`,
      namespace,
      labels: { app, 'pod-template-hash': '5d9f7c', ...opts.labels },
      annotations: { ...(sidecar && { 'sidecar.istio.io/status': '{"containers":["istio-proxy"]}' }), ...opts.annotations },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `${app}-5d9f7c`, controller: true }],
    },
    spec: {
      ...(opts.node && { nodeName: opts.node }),
      containers: [
        { name: app, image: `${app}:1` },
        ...(sidecar ? [{ name: 'istio-proxy', image: 'proxyv2', ...(opts.resources && { resources: opts.resources }) }] : []),
      ],
    },
  };
}

export const service = (namespace: string, name: string, selector: Labels | undefined = { app: name }, labels: Labels = {}): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name, namespace, labels },
  spec: { ...(selector && { selector }), ports: [{ port: 80 }] },
});

export const waypoint = (namespace: string, name = 'waypoint'): KubeObject => ({
  apiVersion: 'gateway.networking.k8s.io/v1',
  kind: 'Gateway',
  metadata: { name, namespace, labels: { 'istio.io/waypoint-for': 'service' } },
  spec: { gatewayClassName: 'istio-waypoint', listeners: [{ name: 'mesh', port: 15008, protocol: 'HBONE' }] },
});

export function istio(kind: string, namespace: string, name: string, spec: Record<string, unknown>): KubeObject {
  const group: Record<string, string> = {
    AuthorizationPolicy: 'security.istio.io/v1',
    RequestAuthentication: 'security.istio.io/v1',
    PeerAuthentication: 'security.istio.io/v1',
    EnvoyFilter: 'networking.istio.io/v1alpha3',
    Sidecar: 'networking.istio.io/v1',
    VirtualService: 'networking.istio.io/v1',
    DestinationRule: 'networking.istio.io/v1',
    WasmPlugin: 'extensions.istio.io/v1alpha1',
    Telemetry: 'telemetry.istio.io/v1',
  };
  return { apiVersion: group[kind], kind, metadata: { name, namespace }, spec };
}

export function input(objects: KubeObject[], namespaces?: string[]): PlanInput {
  return { snapshot: new ClusterStore(objects), objects, ...(namespaces && { namespaces }) };
}
