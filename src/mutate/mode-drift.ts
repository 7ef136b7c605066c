// `pod-mode-drift`: the mode a running pod is in (running-mode.ts) against the mode meshguard
// would decide for it if it were created now.
import type { Finding } from '../findings.js';
import { finding } from '../findings.js';
import type { KubeObject } from '../kube.js';
import { labelsOf } from '../kube.js';
import type { NamespaceConfig } from '../policy/namespace-config.js';
import type { Mode, Policy } from '../policy/types.js';
import { MODE_LABELS } from './patch.js';
import type { PodModeDecision } from './pod-mode.js';
import type { RunningMode } from './running-mode.js';

/**
 * The pod as it was before meshguard's own patch: the mode labels meshguard writes (patch.ts
 * MODE_LABELS) are dropped when its `meshguard.io/decision` annotation says meshguard chose the mode
 * by another rule than the pod's own Istio labels, so a re-decision is not just meshguard reading
 * its own earlier answer back.
 */
export function podAsCreated(pod: KubeObject, recorded: string | undefined): KubeObject {
  const [mode, rule] = recorded?.split('/') ?? [];
  if (!rule || rule === 'pod-istio-labels' || !Object.hasOwn(MODE_LABELS, mode)) return pod;
  const written = MODE_LABELS[mode as Mode];
  const labels = { ...labelsOf(pod) };
  for (const [k, v] of Object.entries(written)) if (labels[k] === v) delete labels[k];
  return { ...pod, metadata: { ...pod.metadata, labels } };
}

/**
 * `pod-mode-drift`: the pod runs in another mode than meshguard would give it if it were created
 * now. Pods are created with their mode, so the fix is a restart of what owns them.
 */
export function podModeDrift(
  actual: RunningMode,
  decided: Pick<PodModeDecision, 'mode' | 'rule'>,
  ns: NamespaceConfig,
  owner: string,
  policy: Policy,
): Finding | undefined {
  if (actual.mode === decided.mode) return undefined;
  const why = decided.rule === 'namespace-default' ? `${decided.rule}: ${ns.defaultModeSource}` : decided.rule;
  return finding(policy, 'pod-mode-drift', 'metadata',
    `runs in ${actual.mode} mode (${actual.evidence}), but meshguard decides ${decided.mode} for it now (rule ${why}). A pod gets its mode when it is created: restart ${owner} so its pods are created again in ${decided.mode} mode.`);
}
