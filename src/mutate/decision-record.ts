import type { KubeObject } from '../kube.js';
import { annotationsOf, labelsOf } from '../kube.js';
import { MESHGUARD } from '../labels.js';
import type { NamespaceConfig } from '../policy/namespace-config.js';
import type { Policy } from '../policy/types.js';
import { MODE_LABELS } from './patch.js';
import { decidePodMode, type PodModeDecision } from './pod-mode.js';

/**
 * The value of the `meshguard.io/decision` annotation for a pod: `<mode>/<rule>`. The annotation is
 * meshguard's to write. One the pod arrives with is kept only when meshguard could have written it:
 * it is this decision or, when the pod carries exactly the mode's labels (on a reinvocation,
 * meshguard's own, which now decide by rule pod-istio-labels), the decision the other rules make for
 * the same mode. Anything else, a forged rule or the stale record of a copied manifest, is replaced by
 * this decision. Keeping the first rule is what makes a reinvocation patch nothing.
 */
export function decisionRecord(pod: KubeObject, decision: PodModeDecision, ns: NamespaceConfig, policy: Policy): string {
  const decided = `${decision.mode}/${decision.rule}`;
  const recorded = annotationsOf(pod)[MESHGUARD.decision];
  if (recorded === undefined || recorded === decided) return decided;
  const labels = labelsOf(pod);
  if (!Object.entries(MODE_LABELS[decision.mode]).every(([k, v]) => labels[k] === v)) return decided;
  const before = decidePodMode(pod, ns, policy, { withoutIstioLabels: true });
  return before.mode === decision.mode && recorded === `${before.mode}/${before.rule}` ? recorded : decided;
}
