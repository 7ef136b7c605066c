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

/**
 * The mode a running pod is in, read the way Istio reads it: a pod with the injector's status
 * annotation or an istio-proxy container has a sidecar, and istio-cni never also captures it
 * (cni/pkg/util/podutil.go podHasSidecar); hostNetwork pods are in no mesh (enablement_selector.go); otherwise the
 * pod's istio.io/dataplane-mode label, else its namespace's, says ambient (or none).
 */
export function runningPodMode(pod: KubeObject, namespace: KubeObject | undefined): Mode {
  if (annotationsOf(pod)[ISTIO.sidecarStatus] !== undefined || proxyContainer(pod)) return 'sidecar';
  if (isRecord(pod.spec) && pod.spec.hostNetwork === true) return 'none';
  const own = labelsOf(pod)[ISTIO.dataplaneMode];
  if (own === 'ambient' || own === 'none') return own;
  return labelsOf(namespace)[ISTIO.dataplaneMode] === 'ambient' ? 'ambient' : 'none';
}
