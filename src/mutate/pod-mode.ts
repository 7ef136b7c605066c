import { quoted } from '../client-text.js';
import type { Finding } from '../findings.js';
import { finding } from '../findings.js';
import type { KubeObject } from '../kube.js';
import { annotationsOf, isRecord, labelsOf } from '../kube.js';
import { ISTIO, MESHGUARD } from '../labels.js';
import type { NamespaceConfig } from '../policy/namespace-config.js';
import { MODES, type Mode, type Policy } from '../policy/types.js';

/** Stable ids of the mode rules, in the order they are tried. */
export type PodModeRule =
  | 'host-network'
  | 'pod-override'
  | 'pod-istio-labels'
  | 'sidecar-only-feature'
  | 'no-sidecar-for-jobs'
  | 'namespace-default';

export interface PodModeDecision {
  mode: Mode;
  rule: PodModeRule;
  /** Errors (denied under `enforce`) and warnings. A signal that produced an error is skipped. */
  findings: Finding[];
}

type Choice = { mode: Mode; rule: PodModeRule } | undefined;

/**
 * Decides a pod's dataplane mode. Pure: the first rule that applies wins. An invalid signal is
 * reported as a finding and ignored, so that under `warn` the pod still gets a valid mode.
 * `withoutIstioLabels` decides as if rule pod-istio-labels did not exist: what meshguard decided
 * for a pod that now carries the labels meshguard itself set (see decisionRecord).
 */
export function decidePodMode(pod: KubeObject, ns: NamespaceConfig, policy: Policy, opts: { withoutIstioLabels?: boolean } = {}): PodModeDecision {
  const findings: Finding[] = [];
  const report = (f: Finding | undefined) => f && findings.push(f);
  const labels = labelsOf(pod);
  const annotations = annotationsOf(pod);

  const choice: Choice =
    hostNetwork(pod) ??
    podOverride(annotations, ns, policy, report) ??
    (opts.withoutIstioLabels ? undefined : podIstioLabels(labels, annotations, policy, report)) ??
    sidecarOnlyFeature(annotations, policy) ??
    noSidecarForJobs(pod, ns, policy) ?? { mode: ns.defaultMode, rule: 'namespace-default' };
  return { ...choice, findings };
}

type Report = (f: Finding | undefined) => void;

function hostNetwork(pod: KubeObject): Choice {
  // Neither ztunnel nor a sidecar can capture a pod in the node's network namespace.
  return isRecord(pod.spec) && pod.spec.hostNetwork === true ? { mode: 'none', rule: 'host-network' } : undefined;
}

function podOverride(annotations: Record<string, string>, ns: NamespaceConfig, policy: Policy, report: Report): Choice {
  const value = annotations[MESHGUARD.modeOverride];
  if (value === undefined) return undefined;
  const path = `metadata.annotations["${MESHGUARD.modeOverride}"]`;
  if (!MODES.includes(value as Mode)) {
    report(
      finding(policy, 'mode-override-invalid', path,
        `${MESHGUARD.modeOverride}=${quoted(value)} is not a mode; use one of ${MODES.join(', ')}, or remove the annotation.`),
    );
    return undefined;
  }
  if (!ns.allowModeOverride) {
    report(
      finding(policy, 'mode-override-forbidden', path,
        `this namespace sets ${MESHGUARD.allowModeOverride}=false, so pods may not choose their mode; remove the annotation (the namespace default is ${ns.defaultMode}).`),
    );
    return undefined;
  }
  return { mode: value as Mode, rule: 'pod-override' };
}

function podIstioLabels(
  labels: Record<string, string>,
  annotations: Record<string, string>,
  policy: Policy,
  report: Report,
): Choice {
  let inject = labels[ISTIO.sidecarInject];
  if (inject === undefined && annotations[ISTIO.sidecarInject] !== undefined) {
    // The annotation form is deprecated but istiod still honours it; the label wins when both exist.
    inject = annotations[ISTIO.sidecarInject];
    report(
      finding(policy, 'deprecated-inject-annotation', `metadata.annotations["${ISTIO.sidecarInject}"]`,
        `the ${ISTIO.sidecarInject} annotation is deprecated; set it as a label instead.`),
    );
  }
  const dataplane = labels[ISTIO.dataplaneMode];
  const dataplanePath = `metadata.labels["${ISTIO.dataplaneMode}"]`;
  if (dataplane !== undefined && dataplane !== 'ambient' && dataplane !== 'none') {
    report(
      finding(policy, 'dataplane-mode-invalid', dataplanePath,
        `${ISTIO.dataplaneMode}=${quoted(dataplane)} is not valid; its only values are "ambient" and "none". For a sidecar, set the label ${ISTIO.sidecarInject}="true" instead.`),
    );
    return inject === 'true' ? { mode: 'sidecar', rule: 'pod-istio-labels' } : undefined;
  }
  if (dataplane === 'ambient' && inject === 'true') {
    report(
      finding(policy, 'dataplane-mode-conflict', dataplanePath,
        `${ISTIO.dataplaneMode}=ambient and ${ISTIO.sidecarInject}=true ask for both ambient and a sidecar; remove one of them (a pod with a sidecar is never captured by ztunnel).`),
    );
    return undefined;
  }
  if (inject === 'true') return { mode: 'sidecar', rule: 'pod-istio-labels' };
  if (dataplane === 'ambient' || dataplane === 'none') return { mode: dataplane, rule: 'pod-istio-labels' };
  return undefined;
}

function sidecarOnlyFeature(annotations: Record<string, string>, policy: Policy): Choice {
  return policy.sidecarOnlyAnnotations.some((a) => annotations[a] !== undefined)
    ? { mode: 'sidecar', rule: 'sidecar-only-feature' }
    : undefined;
}

function noSidecarForJobs(pod: KubeObject, ns: NamespaceConfig, policy: Policy): Choice {
  // A sidecar keeps running after the job's container exits, so the Job never completes.
  if (ns.defaultMode !== 'sidecar') return undefined;
  const owners = isRecord(pod.metadata) && Array.isArray(pod.metadata.ownerReferences) ? pod.metadata.ownerReferences : [];
  return owners.some((o) => isRecord(o) && policy.noSidecarOwnerKinds.includes(o.kind as string))
    ? { mode: 'ambient', rule: 'no-sidecar-for-jobs' }
    : undefined;
}
