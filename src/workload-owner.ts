import type { KubeObject } from './kube.js';
import { isRecord, labelsOf, nameOf } from './kube.js';

/** The workload that creates a pod, or the pod itself: what the migration plan counts and the audit reports drift under. */
export interface Owner {
  kind: string;
  apiVersion: string;
  name: string;
  /** When known: the pod's own, or its controller reference's (not a Deployment's, which is derived). */
  uid?: string;
}

/** Label the Deployment controller puts on its ReplicaSets' pods. */
const POD_TEMPLATE_HASH = 'pod-template-hash';

/**
 * The workload that owns a pod, through its controller owner reference. A ReplicaSet that a
 * Deployment made is named `<deployment>-<pod-template-hash>` (kubernetes pkg/controller/deployment
 * sync.go getNewReplicaSet), so its Deployment is known without reading ReplicaSets.
 */
export function ownerOf(pod: KubeObject): Owner {
  const refs = isRecord(pod.metadata) && Array.isArray(pod.metadata.ownerReferences) ? pod.metadata.ownerReferences.filter(isRecord) : [];
  const ref = refs.find((r) => r.controller === true) ?? refs[0];
  if (!ref || typeof ref.kind !== 'string' || typeof ref.name !== 'string') {
    return withUid({ kind: 'Pod', apiVersion: 'v1', name: nameOf(pod) ?? '' }, pod.metadata?.uid);
  }
  const apiVersion = typeof ref.apiVersion === 'string' ? ref.apiVersion : '';
  const hash = labelsOf(pod)[POD_TEMPLATE_HASH];
  if (ref.kind === 'ReplicaSet' && apiVersion === 'apps/v1' && hash && ref.name.endsWith(`-${hash}`)) {
    return { kind: 'Deployment', apiVersion: 'apps/v1', name: ref.name.slice(0, -hash.length - 1) };
  }
  return withUid({ kind: ref.kind, apiVersion, name: ref.name }, ref.uid);
}

const withUid = (owner: Owner, uid: unknown): Owner => (typeof uid === 'string' && uid ? { ...owner, uid } : owner);
