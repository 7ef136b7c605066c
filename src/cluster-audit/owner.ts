import type { Owner } from '../workload-owner.js';

/** How to restart what owns the pods, for the drift message. */
export function restartHint(owner: Owner, namespace: string): string {
  const kind = owner.kind.toLowerCase();
  if (kind === 'deployment' || kind === 'statefulset' || kind === 'daemonset')
    return `${owner.kind} ${namespace}/${owner.name} (kubectl rollout restart ${kind}/${owner.name} -n ${namespace})`;
  if (owner.kind === 'Pod') return `pod ${namespace}/${owner.name} (delete it and create it again)`;
  return `${owner.kind} ${namespace}/${owner.name} (its pods are created again when it is re-run or its pods are deleted)`;
}
