// Which targetRefs make a waypoint apply a policy to the same workloads its selector chose.
import type { KubeObject } from '../kube.js';
import { isRecord, labelsOf, nameOf } from '../kube.js';
import { ISTIO } from '../labels.js';
import { matchesLabelSelector } from '../validate/label-selector.js';
import { ownerOf } from './inventory.js';

const GATEWAY_API = 'gateway.networking.k8s.io';
/** The CRD's limit on spec.targetRefs. */
const MAX_TARGET_REFS = 16;

export interface TargetRef {
  group: string;
  kind: 'Gateway' | 'Service';
  name: string;
}

export type Targets = { refs: TargetRef[] } | { refs?: undefined; why: string };

export const selects = (matchLabels: Record<string, unknown> | undefined, pod: KubeObject) =>
  matchLabels === undefined || matchesLabelSelector({ matchLabels }, labelsOf(pod));

/**
 * A waypoint applies a policy targeting a Service to the traffic addressed to that Service, and one
 * targeting the waypoint Gateway to all of its traffic (pilot/pkg/model/policyattachment.go
 * ShouldAttachPolicy). So a selector that covers every pod of the namespace becomes the Gateway;
 * otherwise the Services whose pods are all selected, and which together front every selected pod.
 * Anything else would apply the policy to other workloads, or leave some selected pods without it.
 */
export function targetsFor(
  selector: Record<string, unknown> | undefined,
  pods: KubeObject[],
  services: KubeObject[],
  waypoint: string,
): Targets {
  const selected = new Set(pods.filter((p) => selects(selector, p)));
  if (selected.size === 0) return { why: 'its selector matches no pod in the namespace' };
  if (selected.size === pods.length) return { refs: [{ group: GATEWAY_API, kind: 'Gateway', name: waypoint }] };
  const covered = new Set<KubeObject>();
  const refs: TargetRef[] = [];
  for (const svc of [...services].sort((a, b) => ((nameOf(a) ?? '') < (nameOf(b) ?? '') ? -1 : 1))) {
    const svcSelector = isRecord(svc.spec) && isRecord(svc.spec.selector) ? svc.spec.selector : undefined;
    if (!svcSelector || Object.keys(svcSelector).length === 0) continue;
    const own = labelsOf(svc)[ISTIO.useWaypoint];
    if (own !== undefined && own !== waypoint) continue;
    const fronted = pods.filter((p) => matchesLabelSelector({ matchLabels: svcSelector }, labelsOf(p)));
    if (fronted.length === 0 || !fronted.every((p) => selected.has(p))) continue;
    fronted.forEach((p) => covered.add(p));
    refs.push({ group: '', kind: 'Service', name: nameOf(svc)! });
  }
  const bare = [...selected].filter((p) => !covered.has(p));
  if (bare.length) {
    const owners = [...new Set(bare.map((p) => `${ownerOf(p).kind} ${ownerOf(p).name}`))].sort();
    return { why: `no set of Services fronts exactly the selected pods: ${owners.join(', ')} ${owners.length === 1 ? 'has' : 'have'} no Service of ${owners.length === 1 ? 'its' : 'their'} own (one whose pods the selector all matches)` };
  }
  if (refs.length > MAX_TARGET_REFS) return { why: `it would need ${refs.length} Service targets, more than the ${MAX_TARGET_REFS} spec.targetRefs allows` };
  return { refs };
}
