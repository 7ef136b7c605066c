// One existing object through the webhooks' own decisions, as if it were created now: the same
// admitValidation and admitMutation the webhook runs on a CREATE, then pod-mode-drift for Pods.
import type { AdmissionRequest } from '../admission/review.js';
import type { FindingResult } from '../admission/outcome.js';
import { enforce } from '../admission/outcome.js';
import type { ClusterSnapshot } from '../cluster/snapshot.js';
import type { Resource } from '../cluster/resources.js';
import type { Finding } from '../findings.js';
import type { KubeObject } from '../kube.js';
import { annotationsOf, nameOf, namespaceOf, parseApiVersion } from '../kube.js';
import { MESHGUARD } from '../labels.js';
import { podAsCreated, podModeDrift } from '../mutate/mode-drift.js';
import { runningPodState, type RunningMode } from '../mutate/running-mode.js';
import { admitMutation } from '../mutate/admit-pod.js';
import type { PodModeRule } from '../mutate/pod-mode.js';
import { namespaceConfig } from '../policy/namespace-config.js';
import type { Enforcement, Mode, Policy } from '../policy/types.js';
import { admitValidation } from '../validate/admit.js';
import { ownerOf, type Owner } from '../workload-owner.js';
import { restartHint } from './owner.js';

export type JudgedFinding = Finding & { result: FindingResult };

export interface Evaluation {
  /** `off`: not judged at all (the object is skipped, as the webhook skips it). */
  enforcement: Enforcement | 'none';
  findings: JudgedFinding[];
  /** For a Pod: the mode it runs in, the mode meshguard decides now, and the drift between them. */
  pod?: { actual: RunningMode; decided: { mode: Mode; rule: PodModeRule }; drift?: JudgedFinding; owner: Owner };
}

export function evaluateObject(object: KubeObject, resource: Resource, snapshot: ClusterSnapshot, policy: Policy): Evaluation {
  const isPod = resource.group === '' && resource.kind === 'Pod';
  const namespace = resource.namespaced ? (namespaceOf(object) ?? 'default') : undefined;
  const asCreated = isPod ? podAsCreated(object, annotationsOf(object)[MESHGUARD.decision]) : object;
  const { version } = parseApiVersion(object.apiVersion);
  const kind = { group: resource.group, version: version || resource.version, kind: resource.kind };
  const request: AdmissionRequest = { uid: '', kind, requestKind: kind, operation: 'CREATE', namespace, name: nameOf(object), object: asCreated };

  const validation = admitValidation(request, snapshot, policy);
  // admitValidation has made the pod checks already.
  const mutation = isPod ? admitMutation(request, snapshot, policy, 'validating') : undefined;
  const enforcement = mutation?.enforcement === 'off' ? 'off' : validation.enforcement;
  if (enforcement === 'off') return { enforcement, findings: [] };

  // The mode decision and a pod validator may both report the same label.
  const seen = new Set<string>();
  const findings = [...validation.findings, ...(mutation?.findings ?? [])].filter((f) => {
    const key = `${f.rule} ${f.path}`;
    return seen.has(key) ? false : (seen.add(key), true);
  });
  if (!isPod || !mutation?.mode) return { enforcement, findings };

  const decided = { mode: mutation.mode, rule: mutation.modeRule as PodModeRule };
  const nsObject = snapshot.namespace(namespace!);
  const actual = runningPodState(object, nsObject);
  const owner = ownerOf(object);
  const drift = podModeDrift(actual, decided, namespaceConfig(nsObject, policy), restartHint(owner, namespace!), policy);
  const judged = drift ? enforce([drift], enforcement as Enforcement).findings[0] : undefined;
  return { enforcement, findings, pod: { actual, decided, drift: judged, owner } };
}
