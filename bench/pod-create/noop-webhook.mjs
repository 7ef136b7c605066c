// The floor of the webhook mechanism in Node: a bare node:https server that reads the
// AdmissionReview, JSON.parses it and answers "allowed" with its uid. Nothing else.
// With `patch`, it also returns a constant JSON Patch that sets the labels and annotation meshguard
// sets on an ambient pod: what kube-apiserver spends applying a mutation, with no decision behind it.
// With `h2`, it is served by node:http2 (ALPN h2, HTTP/1.1 still accepted), which kube-apiserver's
// client then speaks: HTTP/2 against HTTP/1.1 for the same work.
// Usage: node noop-webhook.mjs PORT CERT KEY [patch] [h2]
import { readFileSync } from 'node:fs';
import { createSecureServer } from 'node:http2';
import { createServer } from 'node:https';

const [port, cert, key, ...modes] = process.argv.slice(2);
const patch =
  modes.includes('patch')
    ? Buffer.from(
        JSON.stringify([
          { op: 'add', path: '/metadata/labels', value: { 'istio.io/dataplane-mode': 'ambient', 'sidecar.istio.io/inject': 'false' } },
          { op: 'add', path: '/metadata/annotations', value: { 'meshguard.io/decision': 'ambient/namespace-default' } },
        ]),
      ).toString('base64')
    : undefined;
const tls = { cert: readFileSync(cert), key: readFileSync(key) };
const serve = (req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const review = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ apiVersion: review.apiVersion, kind: 'AdmissionReview', response: { uid: review.request.uid, allowed: true, ...(patch && { patchType: 'JSONPatch', patch }) } }));
  });
};
(modes.includes('h2') ? createSecureServer({ ...tls, allowHTTP1: true }, serve) : createServer(tls, serve)).listen(Number(port), '127.0.0.1', () =>
  console.log(`no-op webhook on ${port}`),
);
