// The floor of the webhook mechanism in Node: a bare node:https server that reads the
// AdmissionReview, JSON.parses it and answers "allowed" with its uid. Nothing else.
// Usage: node noop-webhook.mjs PORT CERT KEY
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';

const [port, cert, key] = process.argv.slice(2);
createServer({ cert: readFileSync(cert), key: readFileSync(key) }, (req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const review = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ apiVersion: review.apiVersion, kind: 'AdmissionReview', response: { uid: review.request.uid, allowed: true } }));
  });
}).listen(Number(port), '127.0.0.1', () => console.log(`no-op webhook on ${port}`));
