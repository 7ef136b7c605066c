// Reference servers with meshguard's certificate. Usage: node baseline-server.mjs MODE PORT CERT KEY
//   bare     the stack's ceiling: bare Node HTTPS, reads the body, returns a constant AdmissionReview
//   parse    bare Node HTTPS that also JSON.parses the body and echoes request.uid (any webhook must):
//            the reference /mutate's targets are measured against (issue 10 goal 3)
//   fastify  a one-route Fastify app doing the same (the framework's own cost)
// bare and fastify are context: they show where the gap between meshguard and `parse` comes from.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import Fastify from 'fastify';

const [mode, port, cert, key] = process.argv.slice(2);
const tls = { cert: readFileSync(cert), key: readFileSync(key) };
const constant = JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: 'constant', allowed: true } });
const echo = (review) => ({ apiVersion: review.apiVersion, kind: 'AdmissionReview', response: { uid: review.request.uid, allowed: true } });

if (mode === 'fastify') {
  const app = Fastify({ https: tls, bodyLimit: 6 * 1024 * 1024 });
  app.post('/*', async (req) => echo(req.body));
  await app.listen({ port: Number(port), host: '127.0.0.1' });
} else {
  const server = createServer(tls, (req, res) => {
    const chunks = [];
    req.on('data', (c) => mode === 'parse' && chunks.push(c));
    req.on('end', () => {
      const out = mode === 'parse' ? JSON.stringify(echo(JSON.parse(Buffer.concat(chunks).toString()))) : constant;
      res.writeHead(200, { 'content-type': 'application/json' }).end(out);
    });
  });
  await new Promise((ok) => server.listen(Number(port), '127.0.0.1', ok));
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
}
process.stdout.write('listening\n');
