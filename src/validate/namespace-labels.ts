import { clientText, quoted } from '../client-text.js';
import { finding, type Finding } from '../findings.js';
import { labelsOf, nameOf } from '../kube.js';
import { ISTIO } from '../labels.js';
import type { Validator } from './index.js';

const DATAPLANE_MODES = ['ambient', 'none'];

/** istioctl analyze skips this namespace by name (constants.IstioSystemNamespace). */
const ISTIO_SYSTEM = 'istio-system';

/**
 * The labels istioctl analyze lists for IST0123 NamespaceMultipleInjectionLabels, in its order
 * (pkg/config/analysis/analyzers/injection/injection.go, Analyze; unchanged from 1.22 to 1.31):
 * `istio-injection` with any value, then `istio.io/rev` and `istio.io/dataplane-mode` unless
 * `istio-injection` is set to something other than `enabled`. Two or more is a conflict.
 */
function injectionLabelConflict(labels: Record<string, string>): { path: string; listed: string[] } | undefined {
  const hasInjection = Object.hasOwn(labels, ISTIO.injection);
  const listed: string[] = hasInjection ? [ISTIO.injection] : [];
  for (const key of [ISTIO.rev, ISTIO.dataplaneMode])
    if (Object.hasOwn(labels, key) && (!hasInjection || labels[ISTIO.injection] === 'enabled')) listed.push(key);
  if (listed.length < 2) return undefined;
  return { path: `metadata.labels["${listed[0]}"]`, listed };
}

function conflictText(listed: string[], labels: Record<string, string>, name: string): string {
  const shown = (keys: string[]) => keys.map((key) => `${key}=${clientText(labels[key])}`).join(' and ');
  const [first, ...others] = listed;
  const why =
    first === ISTIO.injection
      ? `${ISTIO.injection} wins and pods get sidecars`
      : `the injector of revision ${quoted(labels[ISTIO.rev])} selects the namespace by ${ISTIO.rev} and ignores ${ISTIO.dataplaneMode}, so pods get sidecars (and istio-cni does not capture pods that have one)`;
  return (
    `${shown([first])} together with ${shown(others)} gives the namespace conflicting injection labels ` +
    `(istioctl analyze IST0123 NamespaceMultipleInjectionLabels); ${why}. ` +
    `Keep one: remove ${first} (kubectl label namespace ${name} ${first}-) ` +
    `or the others (kubectl label namespace ${name} ${others.map((k) => `${k}-`).join(' ')}).`
  );
}

/**
 * Istio labels on a Namespace: `istio.io/dataplane-mode` has only the values ambient and none
 * (istio/api label/labels.yaml), and conflicting injection labels (IST0123, above).
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

  const conflict = nameOf(input.object) === ISTIO_SYSTEM ? undefined : injectionLabelConflict(labels);
  if (conflict) findings.push(finding(policy, 'namespace-multiple-injection-labels', conflict.path, conflictText(conflict.listed, labels, name)));
  return findings.filter((f): f is Finding => f !== undefined);
};
