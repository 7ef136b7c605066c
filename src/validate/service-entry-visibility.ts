// ServiceEntry visibility (Istio 1.31): MeshConfig `serviceEntryVisibility`, matched against the
// labels of the ServiceEntry's namespace, not the ServiceEntry's exportTo
// (pilot/pkg/model/serviceentry_visibility.go: CompileServiceEntryVisibility, VisibilityFor).
import type { VersionRange } from '../istio-version.js';
import type { ServiceEntryVisibilityConfig, ServiceEntryVisibilityValue } from '../policy/types.js';
import { matchesLabelSelector } from './label-selector.js';

export type Visibility = 'Public' | 'Namespace' | 'None';

/** serviceentry_visibility.go was added in 1.31 (istio/istio#60870); before, every ServiceEntry is public to waypoints. */
export const SERVICE_ENTRY_VISIBILITY_VERSIONS: VersionRange = { since: '1.31' };

/** toServiceVisibility: VISIBILITY_UNSPECIFIED (and absent) is Public. */
function toVisibility(value: ServiceEntryVisibilityValue | undefined): Visibility {
  return value === 'NAMESPACE' ? 'Namespace' : value === 'NONE' ? 'None' : 'Public';
}

/**
 * The visibility istiod resolves for a ServiceEntry in a namespace with these labels: the first
 * policy whose matching rules all match (an empty list matches everything; a rule without a
 * namespaceSelector never matches), else the default; no config at all is Public. `labels`
 * undefined means the namespace is not known: the answer is then undefined whenever the labels
 * could decide it.
 */
export function serviceEntryVisibility(
  config: ServiceEntryVisibilityConfig | undefined,
  labels: Record<string, string> | undefined,
): Visibility | undefined {
  if (!config) return 'Public';
  for (const policy of config.policies ?? []) {
    const rules = policy.matchingRules ?? [];
    if (!labels) {
      if (rules.length) return undefined;
      return toVisibility(policy.visibility);
    }
    const matches = rules.every((rule) => rule.namespaceSelector !== undefined && matchesLabelSelector(rule.namespaceSelector, labels));
    if (matches) return toVisibility(policy.visibility);
  }
  return toVisibility(config.defaultVisibility);
}
