import type { Finding } from '../findings.js';
import type { ClusterSnapshot } from '../cluster/snapshot.js';
import type { KubeObject } from '../kube.js';
import type { Policy } from '../policy/types.js';
import type { RegexVerdicts } from './regex.js';
import { validateAuthorizationPolicy } from './authorization-policy.js';
import { validateDeprecations } from './deprecations.js';
import { validateIngressUseWaypoint } from './ingress-use-waypoint.js';
import { objectBudgetFinding } from './object-budget.js';
import { validateNamespaceLabels } from './namespace-labels.js';
import { podNeedsChecks } from './pod-checks.js';
import { validatePodModeChange } from './pod-mode-change.js';
import { validateVirtualService } from './virtual-service.js';
import { validateWaypoints } from './waypoint.js';

/** What a validator needs to know about one object, from an AdmissionRequest or a manifest file. */
export interface ValidationInput {
  operation: 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';
  group: string;
  version: string;
  kind: string;
  namespace?: string;
  name?: string;
  /** The object being created or updated; absent on DELETE. */
  object?: KubeObject;
  /** The object before an UPDATE, or the object being deleted. */
  oldObject?: KubeObject;
}

export interface ValidationContext {
  snapshot: ClusterSnapshot;
  policy: Policy;
  /** Regexes the server compiled off the event loop; any other is compiled in place. */
  regexVerdicts?: RegexVerdicts;
}

/** A validator looks at the inputs it cares about and returns [] for everything else. */
export type Validator = (input: ValidationInput, ctx: ValidationContext) => Finding[];

/** The kinds `/validate` looks at (group -> kinds); anything else is allowed untouched. */
export const VALIDATED_KINDS: Record<string, readonly string[]> = {
  'security.istio.io': ['AuthorizationPolicy'],
  'networking.istio.io': ['VirtualService', 'DestinationRule', 'Gateway', 'Sidecar', 'ServiceEntry'],
  'gateway.networking.k8s.io': ['Gateway', 'GatewayClass'],
  '': ['Namespace', 'Service', 'Pod'],
};

/**
 * Kinds whose rules read nothing of the cluster but the request's namespace (for its enforcement):
 * only virtual-service.ts (regexes) and deprecations.ts look at them. The webhook's validation workers,
 * which hold no copy of the cluster, decide these with the namespace the main thread gives them
 * (test/unit/validate/namespace-only-kinds.test.ts fails if a rule for them reads anything else).
 */
export const NAMESPACE_ONLY_KINDS: Record<string, readonly string[]> = {
  'networking.istio.io': ['VirtualService', 'DestinationRule', 'Gateway', 'Sidecar'],
};

/** Whether an object's rules need only its namespace of the cluster (NAMESPACE_ONLY_KINDS). */
export const needsOnlyNamespace = (input: Pick<ValidationInput, 'group' | 'kind'>): boolean =>
  Object.hasOwn(NAMESPACE_ONLY_KINDS, input.group) && NAMESPACE_ONLY_KINDS[input.group].includes(input.kind);

/** Every rule family, in the order their findings are listed. */
export const VALIDATORS: readonly Validator[] = [
  validateAuthorizationPolicy,
  validateVirtualService,
  validateWaypoints,
  validateNamespaceLabels,
  validateIngressUseWaypoint,
  validatePodModeChange,
  validateDeprecations,
];

/** Runs every rule that applies to the object. Pure and total: never throws on any input. */
export function validateObject(input: ValidationInput, snapshot: ClusterSnapshot, policy: Policy, regexVerdicts?: RegexVerdicts): Finding[] {
  return findingsWithoutCluster(input, policy) ?? VALIDATORS.flatMap((validate) => validate(input, { snapshot, policy, regexVerdicts }));
}

/**
 * The findings for an object when they need nothing of the cluster (a kind no rule checks, a pod
 * with nothing to check, an object over the budget); undefined when the rules must run. The
 * webhook's validation workers, which hold no copy of the cluster, decide these themselves.
 */
export function findingsWithoutCluster(input: ValidationInput, policy: Policy): Finding[] | undefined {
  // Own keys only: a group named `constructor` must not reach Object.prototype. The deprecation
  // catalog is data and may name kinds no other rule looks at (API versions that are no longer
  // served reach only `meshguard check`).
  if (!Object.hasOwn(VALIDATED_KINDS, input.group) || !VALIDATED_KINDS[input.group].includes(input.kind))
    return validateDeprecations(input, { policy }).filter((f) => f.rule === 'removed-api-version');
  // What the chart does not send (pods.validate.meshguard.io), nothing here would find anything in.
  if (input.group === '' && input.kind === 'Pod' && input.operation === 'CREATE' && !podNeedsChecks(input.object, policy)) return [];
  // An object over the budget gets one finding, and no rule walks it.
  if (input.group !== '') {
    const over = objectBudgetFinding(input.object ?? input.oldObject, policy);
    if (over) return [over];
  }
  return undefined;
}
