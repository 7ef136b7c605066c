import type { KubeObject } from '../../src/kube.js';
import { loadPolicyFile } from '../../src/policy/load.js';

export const policy = loadPolicyFile();

export function namespace(name: string, labels: Record<string, string> = {}): KubeObject {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } };
}

export function pod(
  opts: {
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    hostNetwork?: boolean;
    owner?: string;
  } = {},
): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      generateName: 'app-',
      namespace: 'default',
      ...(opts.labels && { labels: opts.labels }),
      ...(opts.annotations && { annotations: opts.annotations }),
      ...(opts.owner && { ownerReferences: [{ apiVersion: 'batch/v1', kind: opts.owner, name: 'owner', controller: true }] }),
    },
    spec: { ...(opts.hostNetwork && { hostNetwork: true }), containers: [{ name: 'app', image: 'app:1' }] },
  };
}

let uid = 0;
export function review(request: Record<string, unknown>, apiVersion = 'admission.k8s.io/v1') {
  return {
    apiVersion,
    kind: 'AdmissionReview',
    request: { uid: `uid-${++uid}`, operation: 'CREATE', userInfo: { username: 'alice' }, ...request },
  };
}

export function podReview(namespace: string, object: KubeObject, extra: Record<string, unknown> = {}) {
  return review({ kind: { group: '', version: 'v1', kind: 'Pod' }, resource: { group: '', version: 'v1', resource: 'pods' }, namespace, object, ...extra });
}
