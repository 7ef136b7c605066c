import type { AdmissionRequest } from '../admission/review.js';
import { enforce, type Outcome } from '../admission/outcome.js';
import type { ClusterSnapshot } from '../cluster/snapshot.js';
import { isRecord } from '../kube.js';
import { namespaceConfig } from '../policy/namespace-config.js';
import type { Enforcement, Policy } from '../policy/types.js';
import { validateObject } from './index.js';

/** The validating webhook's decision: findings for the object, judged by its namespace's enforcement. */
export function admitValidation(req: AdmissionRequest, snapshot: ClusterSnapshot, policy: Policy): Outcome {
  const enforcement = enforcementFor(req, snapshot, policy);
  if (enforcement === 'off') return { allowed: true, result: 'allowed', warnings: [], enforcement, findings: [] };
  const findings = validateObject(
    {
      operation: req.operation,
      group: req.kind.group,
      version: req.kind.version,
      kind: req.kind.kind,
      namespace: req.namespace || undefined,
      name: req.name || undefined,
      object: isRecord(req.object) ? req.object : undefined,
      oldObject: isRecord(req.oldObject) ? req.oldObject : undefined,
    },
    snapshot,
    policy,
  );
  const judged = enforce(findings, enforcement);
  const result = !judged.allowed ? 'denied' : judged.warnings.length ? 'warned' : 'allowed';
  return { ...judged, result, enforcement };
}

/**
 * Namespaced objects follow their namespace's label, a Namespace its own label, and other
 * cluster-scoped objects (GatewayClass) the policy's cluster enforcement.
 */
function enforcementFor(req: AdmissionRequest, snapshot: ClusterSnapshot, policy: Policy): Enforcement {
  if (req.kind.group === '' && req.kind.kind === 'Namespace') {
    const ns = isRecord(req.object) ? req.object : isRecord(req.oldObject) ? req.oldObject : undefined;
    return namespaceConfig(ns, policy).enforcement;
  }
  if (!req.namespace) return policy.clusterEnforcement;
  return namespaceConfig(snapshot.namespace(req.namespace), policy).enforcement;
}
