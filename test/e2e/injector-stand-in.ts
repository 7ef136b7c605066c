// A stand-in for Istio's sidecar injector: an HTTPS mutating webhook on loopback, registered the way
// istiod registers its own (configuration name `istio-sidecar-injector`, reinvocationPolicy Never,
// failurePolicy Fail, selecting pods by namespace labels and the pod label sidecar.istio.io/inject).
// It adds a container named istio-proxy, which is all the e2e tests need to see who got a sidecar.
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { clients, eventually, type ControlPlaneInfo } from './control-plane.js';
import { apply, type Rendered } from './webhooks.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
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
  const { generateCertificates } = (await import(pathToFileURL(join(REPO, 'dist', 'server', 'tls.js')).href)) as typeof import('../../src/server/tls.js');
  const { server: pair } = await generateCertificates(['localhost'], ['127.0.0.1'], ca);
  const seen: string[] = [];
  const server: Server = createServer({ key: pair.key, cert: pair.cert }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const review = JSON.parse(Buffer.concat(chunks).toString());
      const request = review.request;
      const pod = request.object;
      seen.push(`${request.namespace}/${pod.metadata?.name ?? pod.metadata?.generateName ?? ''}`);
      const containers: Array<{ name: string }> = pod.spec?.containers ?? [];
      const patch = containers.some((c) => c.name === PROXY_CONTAINER)
        ? []
        : [
            { op: 'add', path: '/spec/containers/-', value: { name: PROXY_CONTAINER, image: 'docker.io/istio/proxyv2:1.26.0', args: ['proxy', 'sidecar'] } },
            ...(pod.metadata?.annotations
              ? [{ op: 'add', path: '/metadata/annotations/sidecar.istio.io~1status', value: '{"containers":["istio-proxy"]}' }]
              : [{ op: 'add', path: '/metadata/annotations', value: { 'sidecar.istio.io/status': '{"containers":["istio-proxy"]}' } }]),
          ];
      const response: Record<string, unknown> = { uid: request.uid, allowed: true };
      if (patch.length) {
        response.patchType = 'JSONPatch';
        response.patch = Buffer.from(JSON.stringify(patch)).toString('base64');
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ apiVersion: review.apiVersion, kind: 'AdmissionReview', response }));
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const common = {
    clientConfig: { url: `${url}/inject`, caBundle: Buffer.from(ca.cert).toString('base64') },
    rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'], scope: '*' }],
    failurePolicy: 'Fail',
    reinvocationPolicy: 'Never',
    sideEffects: 'None',
    admissionReviewVersions: ['v1beta1', 'v1'],
    timeoutSeconds: 10,
  };
  const config: Rendered = {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: { name: INJECTOR_CONFIG, labels: { app: 'sidecar-injector', 'meshguard.io/e2e': 'stand-in' } },
    webhooks: [
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
    ],
  };
  await apply(cp, [config]);

  return {
    url,
    seen,
    async close() {
      const { admission } = clients(cp);
      await admission.deleteMutatingWebhookConfiguration({ name: INJECTOR_CONFIG }).catch(() => undefined);
      await eventually('stand-in injector configuration deleted', () =>
        admission.readMutatingWebhookConfiguration({ name: INJECTOR_CONFIG }).then(
          () => false,
          () => true,
        ),
      );
      server.closeAllConnections();
      await new Promise<void>((ok) => server.close(() => ok()));
    },
  };
}
