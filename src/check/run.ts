// `meshguard check`: the webhook's decisions applied to manifests, with a snapshot built from the
// same manifests. Pure apart from what the caller reads: documents in, report out.
import type { ManifestDoc } from '../cluster/from-files.js';
import { storeFromManifests } from '../cluster/from-files.js';
import type { ClusterSnapshot } from '../cluster/snapshot.js';
import { SNAPSHOT_KINDS, snapshotKindOf } from '../cluster/snapshot.js';
import type { Finding } from '../findings.js';
import type { KubeObject } from '../kube.js';
import { nameOf, namespaceOf, parseApiVersion } from '../kube.js';
import { decidePodMode, type PodModeRule } from '../mutate/pod-mode.js';
import { enforcementFor, namespaceConfig } from '../policy/namespace-config.js';
import type { Mode, Policy, Severity } from '../policy/types.js';
import type { RuleId } from '../rules.js';
import { validateObject } from '../validate/index.js';
import { lineOf } from './field-path.js';
import { podTargets } from './pod-templates.js';

/** Which object in which file; the fields every finding and mode carries. */
export interface ObjectRef {
  file: string;
  /** 0-based index of the YAML document in the file (items of a List share it). */
  document: number;
  /** 1-based line: of the field a finding is about when it can be found, else of the document. */
  line: number;
  kind: string;
  /** null for cluster-scoped objects. */
  namespace: string | null;
  name: string | null;
}

export interface CheckFinding extends ObjectRef {
  rule: RuleId;
  severity: Severity;
  path: string;
  message: string;
}

export interface CheckMode extends ObjectRef {
  /** Where the pod is in the manifest: '' for a Pod, `spec.template` or `spec.jobTemplate.spec.template`. */
  path: string;
  mode: Mode;
  rule: PodModeRule;
}

export interface CheckReport {
  findings: CheckFinding[];
  modes: CheckMode[];
  summary: {
    /** Kubernetes objects read (documents, with List items counted one by one). */
    documents: number;
    errors: number;
    warnings: number;
    /** Objects not checked because their namespace (or they) say meshguard.io/enforcement=off. */
    skipped: number;
    /** Documents without apiVersion and kind: not Kubernetes objects, so not checked. */
    ignored: number;
  };
}

/** Kinds without a namespace, among those a manifest for an Istio app is likely to hold. */
const CLUSTER_SCOPED = new Set([
  'Namespace', 'GatewayClass', 'ClusterRole', 'ClusterRoleBinding', 'CustomResourceDefinition', 'PriorityClass',
  'StorageClass', 'PersistentVolume', 'IngressClass', 'RuntimeClass', 'MutatingWebhookConfiguration',
  'ValidatingWebhookConfiguration', 'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding', 'APIService',
]);

export function checkManifests(docs: ManifestDoc[], policy: Policy): CheckReport {
  const objects = docs.filter((d) => typeof d.object.apiVersion === 'string' && typeof d.object.kind === 'string');
  const snapshot = storeFromManifests(objects);
  // Manifests without any object of a kind say nothing about which exist (a pre-commit run sees only
  // the changed files), so the kind counts as not served and the rules that look it up stay silent.
  const present = new Set(objects.map((d) => snapshotKindOf(d.object)));
  for (const kind of SNAPSHOT_KINDS) snapshot.setServed(kind, present.has(kind));

  const report: CheckReport = {
    findings: [],
    modes: [],
    summary: { documents: objects.length, errors: 0, warnings: 0, skipped: 0, ignored: docs.length - objects.length },
  };
  for (const doc of objects) {
    if (!checkObject(doc, snapshot, policy, report)) report.summary.skipped++;
  }
  for (const f of report.findings) report.summary[f.severity === 'error' ? 'errors' : 'warnings']++;
  return report;
}

/** Adds one object's findings and pod modes to the report; false when its enforcement is off. */
function checkObject(doc: ManifestDoc, snapshot: ClusterSnapshot, policy: Policy, report: CheckReport): boolean {
  const object = doc.object;
  const kind = object.kind as string;
  const { group, version } = parseApiVersion(object.apiVersion);
  const namespace = CLUSTER_SCOPED.has(kind) ? undefined : (namespaceOf(object) ?? 'default');
  if (enforcementFor({ group, kind, namespace, object }, snapshot, policy) === 'off') return false;

  const ref = { file: doc.file, document: doc.index, kind, namespace: namespace ?? null, name: nameOf(object) ?? null };
  const seen = new Set<string>();
  const add = (findings: Finding[], prefix: string) => {
    for (const f of findings) {
      const path = prefix && f.path ? `${prefix}.${f.path}` : prefix || f.path;
      // The mode decision and a pod validator may both report the same label.
      const key = `${f.rule} ${path}`;
      if (seen.has(key)) continue;
      seen.add(key);
      report.findings.push({ ...ref, line: lineOf(doc, path), rule: f.rule, severity: f.severity, path, message: f.message });
    }
  };
  const validate = (obj: KubeObject, as: { group: string; version: string; kind: string }) =>
    validateObject({ operation: 'CREATE', ...as, namespace, name: nameOf(obj), object: obj }, snapshot, policy);

  add(validate(object, { group, version, kind }), '');
  for (const { path, pod } of podTargets(object, group, kind, namespace ?? 'default')) {
    // A Pod was validated above; a template is validated as the Pod it becomes.
    if (path) add(validate(pod, { group: '', version: 'v1', kind: 'Pod' }), path);
    const decision = decidePodMode(pod, namespaceConfig(snapshot.namespace(namespace ?? 'default'), policy), policy);
    add(decision.findings, path);
    report.modes.push({ ...ref, line: lineOf(doc, path), path, mode: decision.mode, rule: decision.rule });
  }
  return true;
}
