import type { KubeObject } from '../kube.js';
import { annotationsOf, isRecord, labelsOf } from '../kube.js';
import { ISTIO } from '../labels.js';
import type { Mode } from '../policy/types.js';

/** The name of the container Istio's injector adds (injection-template.yaml), in containers or, as a native sidecar, initContainers. */
export const PROXY_CONTAINER = 'istio-proxy';

/** The istio-proxy container of a pod, if it has one. */
export function proxyContainer(pod: KubeObject): Record<string, unknown> | undefined {
  const spec = isRecord(pod.spec) ? pod.spec : {};
  for (const list of [spec.containers, spec.initContainers])
    for (const c of Array.isArray(list) ? list : []) if (isRecord(c) && c.name === PROXY_CONTAINER) return c;
  return undefined;
}

/** A running pod's mode and what showed it (for messages). */
export interface RunningMode {
  mode: Mode;
  evidence: string;
}

/**
 * The mode a running pod is in, read the way Istio reads it: a pod with the injector's status
 * annotation or an istio-proxy container has a sidecar, and istio-cni never also captures it
 * (cni/pkg/util/podutil.go podHasSidecar); hostNetwork pods are in no mesh (enablement_selector.go
 * CompiledEnablementSelectors.Matches); otherwise the default enablement selectors
 * (manifests/charts/istio-cni/values.yaml ambient.enablementSelectors) capture a pod labelled
 * istio.io/dataplane-mode=ambient, or a pod in a namespace labelled so unless the pod says none.
 */
export function runningPodState(pod: KubeObject, namespace: KubeObject | undefined): RunningMode {
  if (annotationsOf(pod)[ISTIO.sidecarStatus] !== undefined) return { mode: 'sidecar', evidence: `annotation ${ISTIO.sidecarStatus}` };
  if (proxyContainer(pod)) return { mode: 'sidecar', evidence: `container ${PROXY_CONTAINER}` };
  if (isRecord(pod.spec) && pod.spec.hostNetwork === true) return { mode: 'none', evidence: 'hostNetwork' };
  const own = labelsOf(pod)[ISTIO.dataplaneMode];
  if (own === 'ambient' || own === 'none') return { mode: own, evidence: `pod label ${ISTIO.dataplaneMode}=${own}` };
  return labelsOf(namespace)[ISTIO.dataplaneMode] === 'ambient'
    ? { mode: 'ambient', evidence: `namespace label ${ISTIO.dataplaneMode}=ambient` }
    : { mode: 'none', evidence: 'no sidecar and no ambient label' };
}

export function runningPodMode(pod: KubeObject, namespace: KubeObject | undefined): Mode {
  return runningPodState(pod, namespace).mode;
}
