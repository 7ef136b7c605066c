// A mutating webhook that runs after meshguard's (its configuration name sorts after "00-") and adds
// labels to the pods it selects: how the e2e suite shows that a label a later webhook adds still
// reaches meshguard's pod checks, because kube-apiserver calls meshguard again (reinvocationPolicy
// IfNeeded) once a later webhook has changed the pod.
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { clients, eventually, type ControlPlaneInfo } from './control-plane.js';
import { apply, type Rendered } from './webhooks.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const CONFIG = 'zz-meshguard-e2e-label-adder';

export interface LabelAdder {
  close(): Promise<void>;
}

/** Adds `labels` to every Pod CREATE labelled `selector`, with a certificate signed by `ca` (the run CA). */
export async function startLabelAdder(cp: ControlPlaneInfo, ca: { cert: string; key: string }, selector: Record<string, string>, labels: Record<string, string>): Promise<LabelAdder> {
  const { generateCertificates } = (await import(pathToFileURL(join(REPO, 'dist', 'server', 'tls.js')).href)) as typeof import('../../src/server/tls.js');
  const { server: pair } = await generateCertificates(['localhost'], ['127.0.0.1'], ca);
  const server: Server = createServer({ key: pair.key, cert: pair.cert }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const review = JSON.parse(Buffer.concat(chunks).toString());
      const has: Record<string, string> = review.request.object.metadata?.labels ?? {};
      const patch = Object.entries(labels)
        .filter(([k, v]) => has[k] !== v)
        .map(([k, v]) => ({ op: 'add', path: `/metadata/labels/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`, value: v }));
      const response: Record<string, unknown> = { uid: review.request.uid, allowed: true };
      if (patch.length) Object.assign(response, { patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(patch)).toString('base64') });
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ apiVersion: review.apiVersion, kind: 'AdmissionReview', response }));
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const config: Rendered = {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: { name: CONFIG, labels: { 'meshguard.io/e2e': 'stand-in' } },
    webhooks: [
      {
        name: 'label-adder.e2e.meshguard.io',
        clientConfig: { url: `${url}/add`, caBundle: Buffer.from(ca.cert).toString('base64') },
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
  };
  await apply(cp, [config]);
  return {
    async close() {
      const { admission } = clients(cp);
      await admission.deleteMutatingWebhookConfiguration({ name: CONFIG }).catch(() => undefined);
      await eventually(`${CONFIG} deleted`, () =>
        admission.readMutatingWebhookConfiguration({ name: CONFIG }).then(
          () => false,
          () => true,
        ),
      );
      server.closeAllConnections();
      await new Promise<void>((ok) => server.close(() => ok()));
    },
  };
}
