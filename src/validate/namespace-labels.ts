import { clientText, quoted } from '../client-text.js';
import { finding, type Finding } from '../findings.js';
import { labelsOf, nameOf } from '../kube.js';
import { ISTIO } from '../labels.js';
import type { Validator } from './index.js';

const DATAPLANE_MODES = ['ambient', 'none'];

/**
 * Istio labels on a Namespace: `istio.io/dataplane-mode` has only the values ambient and none
 * (istio/api label/labels.yaml), and `istio-injection=enabled` next to `istio.io/dataplane-mode`
 * or `istio.io/rev` is what `istioctl analyze` reports as IST0123 NamespaceMultipleInjectionLabels.
 */
export const validateNamespaceLabels: Validator = (input, { policy }) => {
  if (input.group !== '' || input.kind !== 'Namespace') return [];
  if (input.operation !== 'CREATE' && input.operation !== 'UPDATE') return [];
  const labels = labelsOf(input.object);
  const name = clientText(nameOf(input.object) ?? input.name ?? '<namespace>');
  const findings: Array<Finding | undefined> = [];

  const mode = labels[ISTIO.dataplaneMode];
  if (mode !== undefined && !DATAPLANE_MODES.includes(mode))
    findings.push(
      finding(policy, 'dataplane-mode-invalid', `metadata.labels["${ISTIO.dataplaneMode}"]`,
        `${ISTIO.dataplaneMode}=${quoted(mode)} is not valid; its only values are "ambient" and "none". ` +
        `For sidecars in this namespace, set the label ${ISTIO.injection}=enabled instead.`),
    );

  if (labels[ISTIO.injection] === 'enabled') {
    const others = [ISTIO.dataplaneMode, ISTIO.rev].filter((key) => labels[key] !== undefined);
    if (others.length > 0) {
      const listed = others.map((key) => `${key}=${clientText(labels[key])}`).join(' and ');
      findings.push(
        finding(policy, 'namespace-multiple-injection-labels', `metadata.labels["${ISTIO.injection}"]`,
          `${ISTIO.injection}=enabled together with ${listed} gives the namespace conflicting injection labels ` +
          `(istioctl analyze IST0123 NamespaceMultipleInjectionLabels); ${ISTIO.injection} wins and pods get sidecars. ` +
          `Keep one: remove ${ISTIO.injection} (kubectl label namespace ${name} ${ISTIO.injection}-) ` +
          `or the others (kubectl label namespace ${name} ${others.map((k) => `${k}-`).join(' ')}).`),
      );
    }
  }
  return findings.filter((f): f is Finding => f !== undefined);
};
