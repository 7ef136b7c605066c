import type { ClusterSnapshot } from '../cluster/snapshot.js';
import type { KubeObject } from '../kube.js';
import { labelsOf } from '../kube.js';
import { ISTIO, MESHGUARD } from '../labels.js';
import { ENFORCEMENTS, MODES, type Enforcement, type Mode, type Policy } from './types.js';

/** What a Namespace's labels say about how meshguard treats it. */
export interface NamespaceConfig {
  enforcement: Enforcement;
  defaultMode: Mode;
  /** Which label gave the default mode, for messages. */
  defaultModeSource: string;
  allowModeOverride: boolean;
}

const isMode = (v: string | undefined): v is Mode => MODES.includes(v as Mode);
const isEnforcement = (v: string | undefined): v is Enforcement => ENFORCEMENTS.includes(v as Enforcement);

/**
 * Reads a namespace's meshguard configuration. An unknown namespace (not yet in the cache) gets the
 * cluster defaults. Istio's own labels decide the default mode when meshguard's label is absent.
 */
export function namespaceConfig(ns: KubeObject | undefined, policy: Policy): NamespaceConfig {
  const labels = labelsOf(ns);
  const enforcementLabel = labels[MESHGUARD.enforcement];
  return {
    enforcement: isEnforcement(enforcementLabel) ? enforcementLabel : policy.clusterEnforcement,
    ...namespaceDefaultMode(labels, policy),
    allowModeOverride: labels[MESHGUARD.allowModeOverride] !== 'false',
  };
}

/** The default mode a namespace's own labels give (meshguard's label, else Istio's), if any. */
export function labelledMode(labels: Record<string, string>): { defaultMode: Mode; defaultModeSource: string } | undefined {
  const explicit = labels[MESHGUARD.defaultMode];
  if (isMode(explicit)) return { defaultMode: explicit, defaultModeSource: `${MESHGUARD.defaultMode}=${explicit}` };
  if (labels[ISTIO.dataplaneMode] === 'ambient')
    return { defaultMode: 'ambient' as const, defaultModeSource: `${ISTIO.dataplaneMode}=ambient` };
  if (labels[ISTIO.injection] === 'enabled')
    return { defaultMode: 'sidecar' as const, defaultModeSource: `${ISTIO.injection}=enabled` };
  if (labels[ISTIO.rev] !== undefined)
    return { defaultMode: 'sidecar' as const, defaultModeSource: `${ISTIO.rev}=${labels[ISTIO.rev]}` };
  return undefined;
}

function namespaceDefaultMode(labels: Record<string, string>, policy: Policy) {
  return labelledMode(labels) ?? { defaultMode: policy.clusterDefaultMode, defaultModeSource: 'policy clusterDefaultMode' };
}

/**
 * Whether some workload in the mesh may be ambient: the cluster default is ambient (unlabelled
 * namespaces), or some namespace says so. Root-namespace policies are judged by this.
 */
export function meshHasAmbient(snapshot: ClusterSnapshot, policy: Policy): boolean {
  return policy.clusterDefaultMode === 'ambient' || snapshot.hasAmbientNamespace();
}

/**
 * The enforcement an object is judged by: a namespaced object follows its namespace's label, a
 * Namespace its own label, and other cluster-scoped objects (GatewayClass) the policy's cluster
 * enforcement. Shared by the webhook and `meshguard check`.
 */
export function enforcementFor(
  target: { group: string; kind: string; namespace?: string; object?: KubeObject },
  snapshot: ClusterSnapshot,
  policy: Policy,
): Enforcement {
  if (target.group === '' && target.kind === 'Namespace') return namespaceConfig(target.object, policy).enforcement;
  const namespace = governingNamespace(target);
  if (!namespace) return policy.clusterEnforcement;
  return namespaceConfig(snapshot.namespace(namespace), policy).enforcement;
}

/**
 * The Namespace from the cluster whose labels govern an object: its own namespace, except for a
 * Namespace (its own labels govern it) and cluster-scoped objects (none). The webhook makes sure the
 * snapshot holds it before deciding.
 */
export function governingNamespace(target: { group: string; kind: string; namespace?: string }): string | undefined {
  if (target.group === '' && target.kind === 'Namespace') return undefined;
  return target.namespace || undefined;
}
