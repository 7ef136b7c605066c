import type { AdmissionRequest } from '../admission/review.js';
import { enforce, type Outcome } from '../admission/outcome.js';
import type { ClusterSnapshot } from '../cluster/snapshot.js';
import { isRecord } from '../kube.js';
import { namespaceConfig } from '../policy/namespace-config.js';
import type { Policy } from '../policy/types.js';
import { decisionRecord } from './decision-record.js';
import { decidePodMode } from './pod-mode.js';
import { podModePatch } from './patch.js';

const untouched: Outcome = { allowed: true, result: 'allowed', warnings: [], enforcement: 'none', findings: [] };

/** The mutating webhook's decision: Pod CREATE gets its dataplane mode; everything else passes unchanged. */
export function admitMutation(req: AdmissionRequest, snapshot: ClusterSnapshot, policy: Policy): Outcome {
  if (req.kind.group !== '' || req.kind.kind !== 'Pod' || req.operation !== 'CREATE' || req.subResource) return untouched;
  const pod = req.object;
  if (!isRecord(pod)) return untouched;
  const namespace = req.namespace ?? '';
  const ns = namespaceConfig(snapshot.namespace(namespace), policy);
  if (ns.enforcement === 'off') return { ...untouched, enforcement: 'off' };

  const decision = decidePodMode(pod, ns, policy);
  const judged = enforce(decision.findings, ns.enforcement);
  const base = { ...judged, enforcement: ns.enforcement, mode: decision.mode, modeRule: decision.rule };
  if (!judged.allowed) return { ...base, result: 'denied' };
  const auditAnnotations = { mode: decision.mode, rule: decision.rule };
  // Under audit the decision is logged and counted, never applied.
  const patch = ns.enforcement === 'audit' ? [] : podModePatch(pod, decision.mode, decisionRecord(pod, decision, ns, policy));
  const result = patch.length ? 'patched' : judged.warnings.length ? 'warned' : 'allowed';
  return { ...base, result, patch: patch.length ? patch : undefined, auditAnnotations };
}
