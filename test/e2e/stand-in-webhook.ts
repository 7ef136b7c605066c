// A mutating webhook of the e2e suite's own: HTTPS on loopback with a certificate signed by the run
// CA, registered as one MutatingWebhookConfiguration, answering each AdmissionReview with the JSON
// Patch its `patchFor` returns (none: admitted unchanged). The stand-ins for Istio's injector
// (injector-stand-in.ts) and for a later labelling webhook (label-adder.ts) are built on it.
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { clients, eventually, type ControlPlaneInfo } from './control-plane.js';
import { apply, type Rendered } from './webhooks.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

export interface StandInWebhook {
  url: string;
  /** Deletes the configuration, waits until it is gone, and stops the server. */
  close(): Promise<void>;
}

export interface StandInOptions {
  /** The MutatingWebhookConfiguration's name (kube-apiserver orders configurations by it) and labels. */
  name: string;
  labels: Record<string, string>;
  /** The configuration's webhooks, each given the clientConfig that reaches this server. */
  webhooks: (clientConfig: { url: string; caBundle: string }) => Array<Record<string, unknown>>;
  /** The patch for one AdmissionReview request. */
  patchFor: (request: any) => unknown[];
}

export async function startStandInWebhook(cp: ControlPlaneInfo, ca: { cert: string; key: string }, o: StandInOptions): Promise<StandInWebhook> {
  const { generateCertificates } = (await import(pathToFileURL(join(REPO, 'dist', 'server', 'tls.js')).href)) as typeof import('../../src/server/tls.js');
  const { server: pair } = await generateCertificates(['localhost'], ['127.0.0.1'], ca);
  const server: Server = createServer({ key: pair.key, cert: pair.cert }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const review = JSON.parse(Buffer.concat(chunks).toString());
      const patch = o.patchFor(review.request);
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
    metadata: { name: o.name, labels: o.labels },
    webhooks: o.webhooks({ url, caBundle: Buffer.from(ca.cert).toString('base64') }),
  };
  await apply(cp, [config]);
  return {
    url,
    async close() {
      const { admission } = clients(cp);
      await admission.deleteMutatingWebhookConfiguration({ name: o.name }).catch(() => undefined);
      await eventually(`${o.name} deleted`, () =>
        admission.readMutatingWebhookConfiguration({ name: o.name }).then(
          () => false,
          () => true,
        ),
      );
      server.closeAllConnections();
      await new Promise<void>((ok) => server.close(() => ok()));
    },
  };
}
