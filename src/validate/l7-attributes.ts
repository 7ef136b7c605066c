import { clientText } from '../client-text.js';
import { isRecord } from '../kube.js';

/**
 * Which AuthorizationPolicy attributes ztunnel can enforce (L4) and which need a waypoint (L7), as
 * istiod decides when it converts a policy for ztunnel: httpSources, httpOperations and
 * l4WhenAttributes in pilot/pkg/serviceregistry/ambient/authorization.go (1.30+; before, in
 * pilot/pkg/serviceregistry/kube/controller/ambient/).
 * An attribute counts only when it holds a non-empty list, as there.
 */
export interface RuleAttribute {
  layer: 'L4' | 'L7';
  /** The field name (`methods`) or, for `when`, `when key <key>`. */
  attribute: string;
  path: string;
  /** Index in spec.rules. */
  rule: number;
}

export const SOURCE_FIELDS: Record<string, 'L4' | 'L7'> = {
  principals: 'L4',
  notPrincipals: 'L4',
  namespaces: 'L4',
  notNamespaces: 'L4',
  ipBlocks: 'L4',
  notIpBlocks: 'L4',
  // L4 since Istio 1.25 (stringToServiceAccountMatch).
  serviceAccounts: 'L4',
  notServiceAccounts: 'L4',
  requestPrincipals: 'L7',
  notRequestPrincipals: 'L7',
  remoteIpBlocks: 'L7',
  notRemoteIpBlocks: 'L7',
};

export const OPERATION_FIELDS: Record<string, 'L4' | 'L7'> = {
  ports: 'L4',
  notPorts: 'L4',
  hosts: 'L7',
  notHosts: 'L7',
  methods: 'L7',
  notMethods: 'L7',
  paths: 'L7',
  notPaths: 'L7',
};

export const L4_WHEN_KEYS = new Set(['source.ip', 'source.namespace', 'source.principal', 'destination.ip', 'destination.port']);

/** `when` keys istiod rejects outright (rule authz-removed-when-key), with what to use instead. */
export function removedWhenKeyAdvice(key: string): string | undefined {
  if (key === 'destination.name' || key === 'destination.user')
    return 'choose the destination workloads with spec.selector (or spec.targetRefs for a waypoint)';
  if (key === 'destination.namespace')
    return "remove it: a policy only applies in its own namespace (metadata.namespace), or mesh-wide from the root namespace";
  if (key === 'destination.labels' || key.startsWith('destination.labels['))
    return 'choose the destination workloads with spec.selector.matchLabels';
  return undefined;
}

const nonEmptyList = (value: unknown) => Array.isArray(value) && value.length > 0;
const listOf = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);

/** Every L4 and L7 attribute in `spec.rules`, in document order. Removed `when` keys are left out. */
export function findRuleAttributes(spec: unknown): RuleAttribute[] {
  const out: RuleAttribute[] = [];
  if (!isRecord(spec)) return out;
  listOf(spec.rules).forEach((rule, r) => {
    if (!isRecord(rule)) return;
    const at = `spec.rules[${r}]`;
    listOf(rule.from).forEach((from, f) => {
      const source = isRecord(from) ? from.source : undefined;
      if (!isRecord(source)) return;
      for (const [field, layer] of Object.entries(SOURCE_FIELDS))
        if (nonEmptyList(source[field])) out.push({ layer, attribute: field, path: `${at}.from[${f}].source.${field}`, rule: r });
    });
    listOf(rule.to).forEach((to, t) => {
      const operation = isRecord(to) ? to.operation : undefined;
      if (!isRecord(operation)) return;
      for (const [field, layer] of Object.entries(OPERATION_FIELDS))
        if (nonEmptyList(operation[field])) out.push({ layer, attribute: field, path: `${at}.to[${t}].operation.${field}`, rule: r });
    });
    listOf(rule.when).forEach((when, w) => {
      const key = isRecord(when) ? when.key : undefined;
      if (typeof key !== 'string' || key === '' || removedWhenKeyAdvice(key)) return;
      out.push({ layer: L4_WHEN_KEYS.has(key) ? 'L4' : 'L7', attribute: `when key ${clientText(key)}`, path: `${at}.when[${w}].key`, rule: r });
    });
  });
  return out;
}
