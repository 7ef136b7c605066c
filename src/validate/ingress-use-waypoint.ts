// `istio.io/ingress-use-waypoint` on a Service or Namespace: whether ingress gateways send traffic
// for the Service through its waypoint. istiod reads the label in more than one place, and not the
// same way, so only "true" and "false" say the same thing to all of them.
import { quoted } from '../client-text.js';
import { finding } from '../findings.js';
import { minorOf } from '../istio-version.js';
import { labelsOf } from '../kube.js';
import type { Validator } from './index.js';

const LABEL = 'istio.io/ingress-use-waypoint';
const GO_TRUE = ['1', 't', 'T', 'TRUE', 'true', 'True'];
const GO_FALSE = ['0', 'f', 'F', 'FALSE', 'false', 'False'];

/** How each of istiod's readers takes the value, at an Istio version. */
function readings(value: string, istioVersion: string): string {
  const minor = minorOf(istioVersion);
  const equalFold = value.toLowerCase() === 'true';
  if (minor >= 31) {
    const parsed = GO_TRUE.includes(value) ? 'true' : GO_FALSE.includes(value) ? 'false' : 'false (it cannot parse it, logs a warning and defaults to false)';
    return (
      `istiod reads it as ${parsed} where it builds the Service (strconv.ParseBool in ingressUseWaypointFromLabels, pilot/pkg/serviceregistry/ambient/services.go) ` +
      `and as ${equalFold} in the ambient index (strings.EqualFold with "true", pilot/pkg/serviceregistry/ambient/ambientindex.go)`
    );
  }
  if (minor >= 25) return `istiod compares it with "true" ignoring case (strings.EqualFold), so it means ${equalFold}, which may not be what you meant`;
  return `istiod compares it with "true" exactly, so it means ${value === 'true'}`;
}

export const validateIngressUseWaypoint: Validator = (input, { policy }) => {
  if (input.group !== '' || (input.kind !== 'Service' && input.kind !== 'Namespace')) return [];
  if (input.operation !== 'CREATE' && input.operation !== 'UPDATE') return [];
  const labels = labelsOf(input.object);
  if (!Object.hasOwn(labels, LABEL)) return [];
  const value = labels[LABEL];
  if (value === 'true' || value === 'false') return [];
  const f = finding(policy, 'ingress-use-waypoint-invalid', `metadata.labels["${LABEL}"]`,
    `${LABEL}=${quoted(value)} is ambiguous: ${readings(value, policy.istioVersion)}. Set it to "true" (ingress traffic goes through the waypoint) or "false".`);
  return f ? [f] : [];
};
