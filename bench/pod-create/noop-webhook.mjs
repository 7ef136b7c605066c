// The floor of the webhook mechanism in Node: a bare node:https server that reads the
// AdmissionReview, JSON.parses it and answers "allowed" with its uid. Nothing else.
// With `patch`, it also returns a constant JSON Patch that sets the labels and annotation meshguard
// sets on an ambient pod: what kube-apiserver spends applying a mutation, with no decision behind it.
// Usage: node noop-webhook.mjs PORT CERT KEY [patch]
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';

const [port, cert, key, mode] = process.argv.slice(2);
const patch =
  mode === 'patch'
    ? Buffer.from(
        JSON.stringify([
          { op: 'add', path: '/metadata/labels', value: { 'istio.io/dataplane-mode': 'ambient', 'sidecar.istio.io/inject': 'false' } },
          { op: 'add', path: '/metadata/annotations', value: { 'meshguard.io/decision': 'ambient/namespace-default' } },
        ]),
      ).toString('base64')
    : undefined;
createServer({ cert: readFileSync(cert), key: readFileSync(key) }, (req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const review = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ apiVersion: review.apiVersion, kind: 'AdmissionReview', response: { uid: review.request.uid, allowed: true, ...(patch && { patchType: 'JSONPatch', patch }) } }));
  });
}).listen(Number(port), '127.0.0.1', () => console.log(`no-op webhook on ${port}`));
