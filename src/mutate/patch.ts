import { escapePathComponent, type Operation } from 'fast-json-patch';
import type { KubeObject } from '../kube.js';
import { annotationsOf, isRecord, labelsOf } from '../kube.js';
import { ISTIO, MESHGUARD } from '../labels.js';
import type { Mode } from '../policy/types.js';

/** The labels each mode sets on a pod (the pod label overrides its namespace's). */
export const MODE_LABELS: Record<Mode, Record<string, string>> = {
  ambient: { [ISTIO.dataplaneMode]: 'ambient', [ISTIO.sidecarInject]: 'false' },
  sidecar: { [ISTIO.sidecarInject]: 'true', [ISTIO.dataplaneMode]: 'none' },
  none: { [ISTIO.dataplaneMode]: 'none', [ISTIO.sidecarInject]: 'false' },
};

/**
 * JSON Patch that puts a pod in `mode` and records `decision` (`<mode>/<rule>`, see decisionRecord)
 * in the decision annotation: one `add` per key that differs (RFC 6901 escaped), never a whole-map
 * replace, so labels other webhooks set survive.
 */
export function podModePatch(pod: KubeObject, mode: Mode, decision: string): Operation[] {
  const labels = changed(labelsOf(pod), MODE_LABELS[mode]);
  const annotations = changed(annotationsOf(pod), { [MESHGUARD.decision]: decision });
  const metadata = isRecord(pod.metadata) ? pod.metadata : undefined;
  if (!metadata) {
    if (Object.keys(labels).length + Object.keys(annotations).length === 0) return [];
    return [{ op: 'add', path: '/metadata', value: { labels, annotations } }];
  }
  return [...addKeys(metadata, 'labels', labels), ...addKeys(metadata, 'annotations', annotations)];
}

function changed(current: Record<string, string>, wanted: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(wanted).filter(([k, v]) => current[k] !== v));
}

function addKeys(metadata: Record<string, unknown>, map: 'labels' | 'annotations', values: Record<string, string>): Operation[] {
  const entries = Object.entries(values);
  if (entries.length === 0) return [];
  if (!isRecord(metadata[map])) return [{ op: 'add', path: `/metadata/${map}`, value: values }];
  return entries.map(([k, v]) => ({ op: 'add', path: `/metadata/${map}/${escapePathComponent(k)}`, value: v }));
}
