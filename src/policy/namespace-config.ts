import type { KubeObject } from '../kube.js';
import { labelsOf } from '../kube.js';
import { ISTIO, MESHGUARD } from '../labels.js';
import { ENFORCEMENTS, MODES, type Enforcement, type Mode, type Policy } from './types.js';

/** What a Namespace's labels say about how meshguard treats it. */
export interface NamespaceConfig {
  enforcement: Enforcement;
  defaultMode: Mode;
  /** Which label gave the default mode, for messages. */
  defaultModeSource: string;
  allowModeOverride: boolean;
}

const isMode = (v: string | undefined): v is Mode => MODES.includes(v as Mode);
const isEnforcement = (v: string | undefined): v is Enforcement => ENFORCEMENTS.includes(v as Enforcement);

/**
 * Reads a namespace's meshguard configuration. An unknown namespace (not yet in the cache) gets the
 * cluster defaults. Istio's own labels decide the default mode when meshguard's label is absent.
 */
export function namespaceConfig(ns: KubeObject | undefined, policy: Policy): NamespaceConfig {
  const labels = labelsOf(ns);
  const enforcementLabel = labels[MESHGUARD.enforcement];
  return {
    enforcement: isEnforcement(enforcementLabel) ? enforcementLabel : policy.clusterEnforcement,
    ...namespaceDefaultMode(labels, policy),
    allowModeOverride: labels[MESHGUARD.allowModeOverride] !== 'false',
  };
}

function namespaceDefaultMode(labels: Record<string, string>, policy: Policy) {
  const explicit = labels[MESHGUARD.defaultMode];
  if (isMode(explicit)) return { defaultMode: explicit, defaultModeSource: `${MESHGUARD.defaultMode}=${explicit}` };
  if (labels[ISTIO.dataplaneMode] === 'ambient')
    return { defaultMode: 'ambient' as const, defaultModeSource: `${ISTIO.dataplaneMode}=ambient` };
  if (labels[ISTIO.injection] === 'enabled')
    return { defaultMode: 'sidecar' as const, defaultModeSource: `${ISTIO.injection}=enabled` };
  if (labels[ISTIO.rev] !== undefined)
    return { defaultMode: 'sidecar' as const, defaultModeSource: `${ISTIO.rev}=${labels[ISTIO.rev]}` };
  return { defaultMode: policy.clusterDefaultMode, defaultModeSource: 'policy clusterDefaultMode' };
}
