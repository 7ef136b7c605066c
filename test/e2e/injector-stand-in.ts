// A stand-in for Istio's sidecar injector: an HTTPS mutating webhook on loopback, registered the way
// istiod registers its own (configuration name `istio-sidecar-injector`, reinvocationPolicy Never,
// failurePolicy Fail, selecting pods by namespace labels and the pod label sidecar.istio.io/inject).
// It adds a container named istio-proxy, which is all the e2e tests need to see who got a sidecar.
import type { ControlPlaneInfo } from './control-plane.js';
import { startStandInWebhook } from './stand-in-webhook.js';

export const INJECTOR_CONFIG = 'istio-sidecar-injector';
export const PROXY_CONTAINER = 'istio-proxy';

export interface InjectorStandIn {
  url: string;
  /** Pods it was asked about (namespace/name or generateName), in order. */
  seen: string[];
  close(): Promise<void>;
}

/**
 * Starts the stand-in with a serving certificate signed by `ca` (the run CA) and registers it as
 * `istio-sidecar-injector`, with Istio's two pod webhooks:
 * - namespace.sidecar-injector.istio.io: namespaces labelled istio-injection=enabled, pods not
 *   labelled sidecar.istio.io/inject=false;
 * - object.sidecar-injector.istio.io: namespaces with neither istio-injection nor istio.io/rev, pods
 *   labelled sidecar.istio.io/inject=true.
 */
export async function startInjectorStandIn(cp: ControlPlaneInfo, ca: { cert: string; key: string }): Promise<InjectorStandIn> {
  const seen: string[] = [];
  const patchFor = (request: any) => {
    const pod = request.object;
    seen.push(`${request.namespace}/${pod.metadata?.name ?? pod.metadata?.generateName ?? ''}`);
    const containers: Array<{ name: string }> = pod.spec?.containers ?? [];
    return containers.some((c) => c.name === PROXY_CONTAINER)
      ? []
      : [
          { op: 'add', path: '/spec/containers/-', value: { name: PROXY_CONTAINER, image: 'docker.io/istio/proxyv2:1.26.0', args: ['proxy', 'sidecar'] } },
          ...(pod.metadata?.annotations
            ? [{ op: 'add', path: '/metadata/annotations/sidecar.istio.io~1status', value: '{"containers":["istio-proxy"]}' }]
            : [{ op: 'add', path: '/metadata/annotations', value: { 'sidecar.istio.io/status': '{"containers":["istio-proxy"]}' } }]),
        ];
  };
  const webhooks = (clientConfig: { url: string; caBundle: string }) => {
    const common = {
      clientConfig: { ...clientConfig, url: `${clientConfig.url}/inject` },
      rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'], scope: '*' }],
      failurePolicy: 'Fail',
      reinvocationPolicy: 'Never',
      sideEffects: 'None',
      admissionReviewVersions: ['v1beta1', 'v1'],
      timeoutSeconds: 10,
    };
    return [
      {
        name: 'namespace.sidecar-injector.istio.io',
        ...common,
        namespaceSelector: { matchLabels: { 'istio-injection': 'enabled' } },
        objectSelector: { matchExpressions: [{ key: 'sidecar.istio.io/inject', operator: 'NotIn', values: ['false'] }] },
      },
      {
        name: 'object.sidecar-injector.istio.io',
        ...common,
        namespaceSelector: {
          matchExpressions: [
            { key: 'istio-injection', operator: 'DoesNotExist' },
            { key: 'istio.io/rev', operator: 'DoesNotExist' },
          ],
        },
        objectSelector: { matchLabels: { 'sidecar.istio.io/inject': 'true' } },
      },
    ];
  };
  const standIn = await startStandInWebhook(cp, ca, { name: INJECTOR_CONFIG, labels: { app: 'sidecar-injector', 'meshguard.io/e2e': 'stand-in' }, webhooks, patchFor });
  return { url: standIn.url, seen, close: () => standIn.close() };
}
