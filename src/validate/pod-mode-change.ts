// Pod UPDATEs that touch what the mode rules read. A pod's mode is decided at CREATE, but Istio follows
// label changes on running pods: on every pod update istio-cni matches the pod's current labels against
// its enablement selectors and adds the pod to ztunnel's capture or removes it (Istio 1.31
// cni/pkg/nodeagent/informers.go reconcilePod, cni/pkg/util/enablement_selector.go Matches; the default
// selectors are `istio.io/dataplane-mode` on the pod or its namespace, with `none` opting out).
import { clientText, quoted } from '../client-text.js';
import { finding, type Finding } from '../findings.js';
import { annotationsOf, isRecord, labelsOf, nameOf, namespaceOf } from '../kube.js';
import { ISTIO, MESHGUARD } from '../labels.js';
import { MODE_LABELS } from '../mutate/patch.js';
import { decidePodMode } from '../mutate/pod-mode.js';
import { namespaceConfig } from '../policy/namespace-config.js';
import type { Validator } from './index.js';

/** The labels that put a pod in its mode: meshguard sets them at CREATE (MODE_LABELS). */
export const MODE_LABEL_KEYS: readonly string[] = Object.keys(MODE_LABELS.ambient);
/** Annotations the mode rules read that a pod author may change: the override and the deprecated inject form. */
export const MODE_ANNOTATION_KEYS: readonly string[] = [MESHGUARD.modeOverride, ISTIO.sidecarInject];

const changed = (now: Record<string, string>, before: Record<string, string>, key: string) =>
  Object.hasOwn(now, key) !== Object.hasOwn(before, key) || now[key] !== before[key];
// Client values are bounded and escaped (src/client-text.ts) before they reach a message.
const shown = (map: Record<string, string>, key: string) => (Object.hasOwn(map, key) ? quoted(map[key]) : '(absent)');

/**
 * An UPDATE that changes the mode labels or annotations is judged by the same mode rules as a CREATE
 * (decidePodMode: invalid values, conflicts, a forbidden override). Where the namespace forbids
 * overrides (meshguard.io/allow-mode-override=false) the mode labels are fixed at admission: changing
 * them would move a running pod out of the mode meshguard decided. The decision annotation is
 * meshguard's record of that decision, so no UPDATE may add, change or remove it.
 */
export const validatePodModeChange: Validator = (input, { snapshot, policy }) => {
  if (input.group !== '' || input.kind !== 'Pod' || input.operation !== 'UPDATE') return [];
  const { object, oldObject } = input;
  if (!isRecord(object) || !isRecord(oldObject)) return [];
  const [labels, oldLabels] = [labelsOf(object), labelsOf(oldObject)];
  const [annotations, oldAnnotations] = [annotationsOf(object), annotationsOf(oldObject)];
  const name = clientText(input.name ?? nameOf(object) ?? 'NAME');
  const findings: Array<Finding | undefined> = [];

  if (changed(annotations, oldAnnotations, MESHGUARD.decision)) {
    const fix = Object.hasOwn(oldAnnotations, MESHGUARD.decision)
      ? `Keep it as it was (kubectl annotate pod ${name} ${MESHGUARD.decision}=${clientText(oldAnnotations[MESHGUARD.decision])} --overwrite)`
      : `Remove it (kubectl annotate pod ${name} ${MESHGUARD.decision}-)`;
    findings.push(
      finding(policy, 'decision-annotation-reserved', `metadata.annotations["${MESHGUARD.decision}"]`,
        `${MESHGUARD.decision} is meshguard's record of the mode it decided when the pod was created, and only meshguard writes it; this update changes it from ${shown(oldAnnotations, MESHGUARD.decision)} to ${shown(annotations, MESHGUARD.decision)}. ${fix}, and leave it out of the manifests you apply.`),
    );
  }

  const labelChanges = MODE_LABEL_KEYS.filter((k) => changed(labels, oldLabels, k));
  if (labelChanges.length === 0 && !MODE_ANNOTATION_KEYS.some((k) => changed(annotations, oldAnnotations, k))) return present(findings);

  const ns = namespaceConfig(snapshot.namespace(input.namespace ?? namespaceOf(object) ?? 'default'), policy);
  findings.push(...decidePodMode(object, ns, policy).findings);
  if (!ns.allowModeOverride)
    for (const key of labelChanges) {
      const fix = Object.hasOwn(oldLabels, key)
        ? `kubectl label pod ${name} ${key}=${clientText(oldLabels[key])} --overwrite`
        : `kubectl label pod ${name} ${key}-`;
      findings.push(
        finding(policy, 'mode-override-forbidden', `metadata.labels["${key}"]`,
          `this namespace sets ${MESHGUARD.allowModeOverride}=false, so a pod's mode labels are fixed when it is admitted; this update changes ${key} from ${shown(oldLabels, key)} to ${shown(labels, key)}, and istio-cni follows label changes on running pods (the pod would leave the mode meshguard decided). Keep the label as it was (${fix}).`),
      );
    }
  return present(findings);
};

const present = (findings: Array<Finding | undefined>) => findings.filter((f): f is Finding => f !== undefined);
