import type { KubeObject } from '../kube.js';
import { isRecord, nameOf } from '../kube.js';

/** A pod that a manifest will create: a Pod itself, or a workload's pod template made into a Pod. */
export interface PodTarget {
  /** Where the pod sits in the manifest ('' for a Pod, e.g. `spec.template` for a Deployment). */
  path: string;
  pod: KubeObject;
}

/**
 * Where each workload keeps its pod template, and the kind of the object that will own the pods
 * (a CronJob's pods belong to the Job it creates; a Deployment's to a ReplicaSet), so that mode
 * rules keyed on owners (no-sidecar-for-jobs) see what the webhook will see.
 */
const WORKLOADS: Record<string, { group: string; template: string[]; owner: { apiVersion: string; kind: string } }> = {
  Deployment: { group: 'apps', template: ['spec', 'template'], owner: { apiVersion: 'apps/v1', kind: 'ReplicaSet' } },
  StatefulSet: { group: 'apps', template: ['spec', 'template'], owner: { apiVersion: 'apps/v1', kind: 'StatefulSet' } },
  DaemonSet: { group: 'apps', template: ['spec', 'template'], owner: { apiVersion: 'apps/v1', kind: 'DaemonSet' } },
  Job: { group: 'batch', template: ['spec', 'template'], owner: { apiVersion: 'batch/v1', kind: 'Job' } },
  CronJob: { group: 'batch', template: ['spec', 'jobTemplate', 'spec', 'template'], owner: { apiVersion: 'batch/v1', kind: 'Job' } },
};

export function podTargets(object: KubeObject, group: string, kind: string, namespace: string): PodTarget[] {
  if (group === '' && kind === 'Pod') return [{ path: '', pod: object }];
  const workload = Object.hasOwn(WORKLOADS, kind) ? WORKLOADS[kind] : undefined;
  if (!workload || workload.group !== group) return [];
  let template: unknown = object;
  for (const key of workload.template) template = isRecord(template) ? template[key] : undefined;
  if (!isRecord(template)) return [];
  const metadata = isRecord(template.metadata) ? template.metadata : {};
  const owner = { ...workload.owner, name: nameOf(object) ?? '', controller: true };
  const pod: KubeObject = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { ...metadata, namespace, ownerReferences: [owner] },
    spec: template.spec,
  };
  return [{ path: workload.template.join('.'), pod }];
}
