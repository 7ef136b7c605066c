// What the validating checks of a Pod CREATE read. They run in the mutating call by default
// (admit-pod.ts PodChecksAt), where a pod without these keys costs a look-up of each; where the
// chart sends them to pods.validate.meshguard.io instead, its CEL matchConditions test for the same
// keys. The keys short-circuit validateObject, so a check that read anything else would fail its own tests.
import { annotationsOf, labelsOf, type KubeObject } from '../kube.js';
import { ISTIO } from '../labels.js';
import type { Policy } from '../policy/types.js';

export interface PodCheckKeys {
  labels: string[];
  annotations: string[];
}

/** A catalog path that names one label or annotation: `metadata.annotations["a/b"]` or `metadata.labels.app`. */
const METADATA_KEY = /^metadata\.(labels|annotations)(?:\["([^"]+)"\]|\.([A-Za-z_][A-Za-z0-9_]*))$/;

const cache = new WeakMap<Policy, PodCheckKeys | undefined>();

/**
 * The labels and annotations the Pod checks read: `istio.io/use-waypoint` (the waypoint binding rules;
 * `istio.io/use-waypoint-namespace` matters only with it) and every label or annotation the
 * deprecation catalog names for Pods. Undefined when a catalog entry for Pods looks at anything else
 * (a spec field, the apiVersion): then every Pod must be checked.
 */
export function podCheckKeys(policy: Policy): PodCheckKeys | undefined {
  if (cache.has(policy)) return cache.get(policy);
  const keys: PodCheckKeys = { labels: [ISTIO.useWaypoint], annotations: [] };
  let readsMore = false;
  for (const entry of policy.deprecations) {
    if (entry.group !== '' || !entry.kinds.includes('Pod')) continue;
    const paths = typeof entry.path === 'string' ? [entry.path] : entry.path;
    for (const path of paths) {
      const m = METADATA_KEY.exec(path);
      if (!m) readsMore = true;
      else keys[m[1] as 'labels' | 'annotations'].push(m[2] ?? m[3]);
    }
  }
  const result = readsMore ? undefined : keys;
  cache.set(policy, result);
  return result;
}

/** Whether a Pod carries anything the Pod checks read (always true when they read more than keys). */
export function podNeedsChecks(pod: KubeObject | undefined, policy: Policy): boolean {
  const keys = podCheckKeys(policy);
  if (!keys) return true;
  const [labels, annotations] = [labelsOf(pod), annotationsOf(pod)];
  return keys.labels.some((k) => Object.hasOwn(labels, k)) || keys.annotations.some((k) => Object.hasOwn(annotations, k));
}
