// A mutating webhook that runs after meshguard's (its configuration name sorts after "00-") and adds
// labels to the pods it selects: how the e2e suite shows that a label a later webhook adds still
// reaches meshguard's pod checks, because kube-apiserver calls meshguard again (reinvocationPolicy
// IfNeeded) once a later webhook has changed the pod.
import type { ControlPlaneInfo } from './control-plane.js';
import { startStandInWebhook, type StandInWebhook } from './stand-in-webhook.js';

/** Adds `labels` to every Pod CREATE labelled `selector`, with a certificate signed by `ca` (the run CA). */
export function startLabelAdder(cp: ControlPlaneInfo, ca: { cert: string; key: string }, selector: Record<string, string>, labels: Record<string, string>): Promise<StandInWebhook> {
  return startStandInWebhook(cp, ca, {
    name: 'zz-meshguard-e2e-label-adder',
    labels: { 'meshguard.io/e2e': 'stand-in' },
    webhooks: (clientConfig) => [
      {
        name: 'label-adder.e2e.meshguard.io',
        clientConfig: { ...clientConfig, url: `${clientConfig.url}/add` },
        rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'], scope: '*' }],
        // Selected pods carry the selector label before any webhook runs, so one call is enough.
        objectSelector: { matchLabels: selector },
        failurePolicy: 'Fail',
        reinvocationPolicy: 'Never',
        sideEffects: 'None',
        admissionReviewVersions: ['v1'],
        timeoutSeconds: 10,
      },
    ],
    patchFor: (request: any) => {
      const has: Record<string, string> = request.object.metadata?.labels ?? {};
      return Object.entries(labels)
        .filter(([k, v]) => has[k] !== v)
        .map(([k, v]) => ({ op: 'add', path: `/metadata/labels/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`, value: v }));
    },
  });
}
