import type { AdmissionRequest } from '../admission/review.js';
import { enforce, type Outcome } from '../admission/outcome.js';
import type { ClusterSnapshot } from '../cluster/snapshot.js';
import { isRecord } from '../kube.js';
import { namespaceConfig } from '../policy/namespace-config.js';
import type { Policy } from '../policy/types.js';
import { validationInput } from '../validate/admit.js';
import { validateObject } from '../validate/index.js';
import { decisionRecord } from './decision-record.js';
import { decidePodMode } from './pod-mode.js';
import { podModePatch } from './patch.js';

const untouched: Outcome = { allowed: true, result: 'allowed', warnings: [], enforcement: 'none', findings: [] };

/**
 * Where the Pod CREATE checks of the validating rules run (the waypoint binding of istio.io/use-waypoint,
 * the deprecation catalog's Pod entries): `mutating`, in this call, so that an ordinary pod costs one
 * webhook call; or `validating`, where the chart sends Pod CREATEs to pods.validate.meshguard.io, which
 * sees the pod after every mutation. The chart picks `validating` when the policy's catalog reads more
 * of a Pod than labels and annotations (podCheckKeys), or when those checks must fail closed
 * (podsFailurePolicy Fail; the mutating call fails open). In the mutating call they see what they
 * read: Istio's injector writes none of those labels and annotations, and a later webhook that adds
 * one makes kube-apiserver call this webhook again (reinvocationPolicy IfNeeded).
 */
export type PodChecksAt = 'mutating' | 'validating';
export const POD_CHECKS_AT: readonly PodChecksAt[] = ['mutating', 'validating'];

/** The mutating webhook's decision: Pod CREATE gets its dataplane mode (and the pod checks); everything else passes unchanged. */
export function admitMutation(req: AdmissionRequest, snapshot: ClusterSnapshot, policy: Policy, podChecksAt: PodChecksAt = 'mutating'): Outcome {
  if (req.kind.group !== '' || req.kind.kind !== 'Pod' || req.operation !== 'CREATE' || req.subResource) return untouched;
  const pod = req.object;
  if (!isRecord(pod)) return untouched;
  const namespace = req.namespace ?? '';
  const ns = namespaceConfig(snapshot.namespace(namespace), policy);
  if (ns.enforcement === 'off') return { ...untouched, enforcement: 'off' };

  const decision = decidePodMode(pod, ns, policy);
  const checks = podChecksAt === 'mutating' ? validateObject(validationInput(req), snapshot, policy) : [];
  const judged = enforce([...decision.findings, ...checks], ns.enforcement);
  const base = { ...judged, enforcement: ns.enforcement, mode: decision.mode, modeRule: decision.rule };
  if (!judged.allowed) return { ...base, result: 'denied' };
  const auditAnnotations = { mode: decision.mode, rule: decision.rule };
  // Under audit the decision is logged and counted, never applied.
  const patch = ns.enforcement === 'audit' ? [] : podModePatch(pod, decision.mode, decisionRecord(pod, decision, ns, policy));
  const result = patch.length ? 'patched' : judged.warnings.length ? 'warned' : 'allowed';
  return { ...base, result, patch: patch.length ? patch : undefined, auditAnnotations };
}
