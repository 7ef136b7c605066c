export const MODES = ['ambient', 'sidecar', 'none'] as const;
export type Mode = (typeof MODES)[number];

export const ENFORCEMENTS = ['enforce', 'warn', 'audit', 'off'] as const;
export type Enforcement = (typeof ENFORCEMENTS)[number];

import type { IstioVersion } from '../istio-version.js';

export type Severity = 'error' | 'warning';
/** A rule's configured severity; `off` disables it. */
export type RuleSetting = Severity | 'off';

export interface DeprecationEntry {
  /** `deprecated-field`, `removed-annotation`, `deprecated-api-version` or `removed-api-version`. */
  rule: string;
  group: string;
  kinds: string[];
  /** Empty means every version. */
  versions: string[];
  /**
   * Where the deprecated thing lives: a dotted path with `[]` for "every element", `{}` for "every
   * map value" and `["key"]` for a key with dots or slashes, e.g. `spec.http[].mirrorPercent` or
   * `metadata.annotations["istio.io/for-service-account"]`. A list when the same field is deprecated
   * in several places. Empty for a whole apiVersion.
   */
  path: string | string[];
  /** Matches only when the field has this value (e.g. `LEAST_CONN`). */
  equals?: string | number | boolean;
  /** Matches only when this sibling field is also set (e.g. `mirror` with `mirrors`). */
  with?: string;
  message: string;
  replacement: string;
  /** The first Istio version the entry holds for; it is not applied for older versions. */
  since: string;
  /** The last Istio version the entry holds for, if it stopped holding (e.g. a field came back). */
  until?: string;
  severity?: Severity;
}

/** MeshConfig `serviceEntryVisibility` values (istio.io/api mesh/v1alpha1 config.proto, 1.31). */
export const SERVICE_ENTRY_VISIBILITIES = ['VISIBILITY_UNSPECIFIED', 'PUBLIC', 'NAMESPACE', 'NONE'] as const;
export type ServiceEntryVisibilityValue = (typeof SERVICE_ENTRY_VISIBILITIES)[number];

/**
 * A copy of the mesh's MeshConfig `serviceEntryVisibility` (Istio 1.31), in MeshConfig's own YAML
 * shape so it can be pasted from `meshConfig`. istiod matches it against a ServiceEntry's namespace
 * labels (pilot/pkg/model/serviceentry_visibility.go, VisibilityFor).
 */
export interface ServiceEntryVisibilityConfig {
  defaultVisibility?: ServiceEntryVisibilityValue;
  /** Sidecars only; waypoint bindings do not depend on it. */
  applyToSidecars?: boolean;
  policies?: Array<{
    visibility?: ServiceEntryVisibilityValue;
    matchingRules?: Array<{ namespaceSelector?: Record<string, unknown> }>;
  }>;
}

export interface Policy {
  /** The Istio minor version rules are judged for (`1.31`); version-dependent rules follow it. */
  istioVersion: IstioVersion;
  /** Mode for pods in namespaces that say nothing about it. */
  clusterDefaultMode: Mode;
  /** Enforcement for cluster-scoped objects (GatewayClass, Namespace) and namespaces that set none. */
  clusterEnforcement: Enforcement;
  /** Istio's root namespace (`istio-system` unless meshConfig.rootNamespace says otherwise). */
  rootNamespace: string;
  sidecarOnlyAnnotations: string[];
  /** Owner kinds whose pods get ambient instead of sidecar (rule `no-sidecar-for-jobs`). */
  noSidecarOwnerKinds: string[];
  /** Severity per rule id; rules not listed use their built-in default. */
  rules: Record<string, RuleSetting>;
  deprecations: DeprecationEntry[];
  /** The mesh's MeshConfig serviceEntryVisibility; absent when the mesh sets none (every ServiceEntry is public). */
  serviceEntryVisibility?: ServiceEntryVisibilityConfig;
}
