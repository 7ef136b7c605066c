import type { VersionRange } from './istio-version.js';
import type { Severity } from './policy/types.js';

/**
 * Every finding rule meshguard has, with its default severity. The ids are the shared language of
 * code, tests, logs, metrics and docs; the policy file may change a severity or turn a rule off.
 */
export const RULES = {
  // Pod mode (mutation)
  'mode-override-invalid': 'error',
  'mode-override-forbidden': 'error',
  'dataplane-mode-invalid': 'error',
  'dataplane-mode-conflict': 'error',
  'deprecated-inject-annotation': 'warning',
  'decision-annotation-reserved': 'error',
  'pod-mode-drift': 'warning',
  // AuthorizationPolicy
  'authz-l7-needs-waypoint': 'error',
  'authz-target-not-found': 'error',
  'authz-target-not-waypoint': 'error',
  'authz-target-invalid': 'error',
  'authz-misplaced-waypoint-label': 'error',
  'authz-removed-when-key': 'error',
  'authz-ztunnel-unsupported-field': 'error',
  'authz-dry-run-ignored': 'warning',
  // VirtualService regexes
  'regex-invalid': 'error',
  'regex-too-long': 'error',
  'regex-empty': 'error',
  'regex-budget-exceeded': 'error',
  // Any validated custom resource
  'object-budget-exceeded': 'error',
  // Waypoints
  'waypoint-listener-invalid': 'error',
  'waypoint-for-invalid': 'error',
  'waypoint-name-reserved': 'error',
  'waypoint-missing': 'error',
  'waypoint-not-a-waypoint': 'error',
  'waypoint-for-mismatch': 'error',
  'waypoint-cross-namespace-denied': 'error',
  'waypoint-in-use': 'error',
  'waypoint-canary-invalid': 'error',
  'ingress-use-waypoint-invalid': 'error',
  // Labels and deprecations
  'namespace-multiple-injection-labels': 'warning',
  'deprecated-field': 'error',
  'removed-annotation': 'error',
  'deprecated-api-version': 'warning',
  'removed-api-version': 'error',
} as const satisfies Record<string, Severity>;

export type RuleId = keyof typeof RULES;
export const RULE_IDS = Object.keys(RULES) as RuleId[];

/**
 * The Istio versions a rule holds for, as data (rules not listed hold for every version meshguard
 * knows). A rule outside the policy's istioVersion does not run (findings.ts). Each range is decided
 * by Istio's source at that version; the README's version table lists them.
 */
export const RULE_VERSIONS: Partial<Record<RuleId, VersionRange & { why: string }>> = {
  // source.trustDomains / notTrustDomains exist from 1.31 (pilot/pkg/security/authz/model/model.go).
  'authz-ztunnel-unsupported-field': { since: '1.31', why: 'trustDomains and notTrustDomains are new in 1.31' },
  // The label is read from 1.24 (pilot/pkg/serviceregistry/kube/controller/ambient/services.go).
  'ingress-use-waypoint-invalid': { since: '1.24', why: 'the label exists from 1.24' },
  // Canaries: buildWeightedWaypoints in pilot/pkg/serviceregistry/ambient/waypoints.go, new in 1.31.
  'waypoint-canary-invalid': { since: '1.31', why: 'waypoint canaries are new in 1.31' },
};
