import { describe, expect, it } from 'vitest';
import { ownerOf } from '../../src/workload-owner.js';
import type { KubeObject } from '../../src/kube.js';

const pod = (refs: unknown[] | undefined, labels: Record<string, string> = {}): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'web-7d9f8-abcde', namespace: 'apps', labels, ...(refs && { ownerReferences: refs as never }) },
});
const rs = (name: string) => ({ apiVersion: 'apps/v1', kind: 'ReplicaSet', name, controller: true });

describe('ownerOf: the workload that creates a pod', () => {
  it.each<[string, KubeObject, { kind: string; apiVersion: string; name: string }]>([
    ['a Deployment through its ReplicaSet (name minus pod-template-hash)', pod([rs('web-7d9f8')], { 'pod-template-hash': '7d9f8' }), { kind: 'Deployment', apiVersion: 'apps/v1', name: 'web' }],
    ['a bare ReplicaSet (no pod-template-hash)', pod([rs('web-7d9f8')]), { kind: 'ReplicaSet', apiVersion: 'apps/v1', name: 'web-7d9f8' }],
    ['a ReplicaSet whose name does not end in the hash', pod([rs('custom')], { 'pod-template-hash': '7d9f8' }), { kind: 'ReplicaSet', apiVersion: 'apps/v1', name: 'custom' }],
    ['a StatefulSet', pod([{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'db', controller: true }]), { kind: 'StatefulSet', apiVersion: 'apps/v1', name: 'db' }],
    ['a DaemonSet', pod([{ apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'agent', controller: true }]), { kind: 'DaemonSet', apiVersion: 'apps/v1', name: 'agent' }],
    ['a Job', pod([{ apiVersion: 'batch/v1', kind: 'Job', name: 'migrate', controller: true }]), { kind: 'Job', apiVersion: 'batch/v1', name: 'migrate' }],
    ['the controller among several owners', pod([{ apiVersion: 'v1', kind: 'ConfigMap', name: 'c' }, { apiVersion: 'batch/v1', kind: 'Job', name: 'j', controller: true }]), { kind: 'Job', apiVersion: 'batch/v1', name: 'j' }],
    ['no owner: the pod itself', pod(undefined), { kind: 'Pod', apiVersion: 'v1', name: 'web-7d9f8-abcde' }],
    ['a malformed owner reference: the pod itself', pod([{ kind: 7 }]), { kind: 'Pod', apiVersion: 'v1', name: 'web-7d9f8-abcde' }],
  ])('%s', (_, p, owner) => {
    expect(ownerOf(p)).toEqual(owner);
  });
});
