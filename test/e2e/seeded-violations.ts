// The objects the cluster-audit e2e files create while meshguard's webhooks are not installed, and
// their fixes: a sidecar pod of Deployment `web` in a namespace meshguard now makes ambient
// (pod-mode-drift), an L7 rule in an AuthorizationPolicy that selects pods (authz-l7-needs-waypoint),
// a Service whose use-waypoint label names a waypoint that does not exist (waypoint-missing).
import { clients, type ControlPlaneInfo } from './control-plane.js';

export const AUTHORIZATION_POLICIES = { group: 'security.istio.io', version: 'v1', plural: 'authorizationpolicies' } as const;
/** The seeded AuthorizationPolicy's name. */
export const L7_POLICY = 'no-deletes';

/** A pod of Deployment `web` (through its ReplicaSet) that Istio's injector gave a sidecar. */
export const sidecarPod = (name: string) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: {
    name,
    labels: { app: 'web', 'pod-template-hash': '6b8d7' } as Record<string, string>,
    annotations: { 'sidecar.istio.io/status': '{"containers":["istio-proxy"]}' } as Record<string, string>,
    ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-6b8d7', uid: '0b7c6a52-0000-4000-8000-000000000002', controller: true }],
  },
  spec: { containers: [{ name: 'app', image: 'app:1' }, { name: 'istio-proxy', image: 'proxyv2:1' }] },
});

/** The fix pod-mode-drift asks for: the workload's pod created again as meshguard's mutation makes it in an ambient namespace. */
export function ambientPod(name: string) {
  const pod = sidecarPod(name);
  pod.metadata.labels['istio.io/dataplane-mode'] = 'ambient';
  pod.metadata.annotations = { 'meshguard.io/decision': 'ambient/namespace-default' };
  pod.spec.containers = [{ name: 'app', image: 'app:1' }];
  return pod;
}

export async function createSidecarPods(cp: ControlPlaneInfo, namespace: string, names: string[]) {
  for (const name of names) await clients(cp).core.createNamespacedPod({ namespace, body: sidecarPod(name) });
}

/** A DENY policy on pods `app: cart` with an L7 rule (methods): ztunnel cannot enforce it, and no waypoint is named. */
export async function createL7SelectorPolicy(cp: ControlPlaneInfo, namespace: string) {
  await clients(cp).custom.createNamespacedCustomObject({
    ...AUTHORIZATION_POLICIES,
    namespace,
    body: {
      apiVersion: 'security.istio.io/v1',
      kind: 'AuthorizationPolicy',
      metadata: { name: L7_POLICY },
      spec: { selector: { matchLabels: { app: 'cart' } }, action: 'DENY', rules: [{ to: [{ operation: { methods: ['DELETE'] } }] }] },
    },
  });
}

/** The seeded policy's L7 rule made L4 (ports only). */
export async function makePolicyL4(cp: ControlPlaneInfo, namespace: string) {
  const { custom } = clients(cp);
  const ap = (await custom.getNamespacedCustomObject({ ...AUTHORIZATION_POLICIES, namespace, name: L7_POLICY })) as { spec: { rules: unknown } };
  ap.spec.rules = [{ to: [{ operation: { ports: ['8080'] } }] }];
  await custom.replaceNamespacedCustomObject({ ...AUTHORIZATION_POLICIES, namespace, name: L7_POLICY, body: ap });
}

/** Service `cart` labelled to use waypoint `waypoint`, which does not exist. */
export async function createServiceUsingMissingWaypoint(cp: ControlPlaneInfo, namespace: string) {
  await clients(cp).core.createNamespacedService({
    namespace,
    body: { apiVersion: 'v1', kind: 'Service', metadata: { name: 'cart', labels: { 'istio.io/use-waypoint': 'waypoint' } }, spec: { ports: [{ port: 80 }] } },
  });
}
