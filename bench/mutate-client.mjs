// A /mutate client in its own thread (bench/hostile.mjs): sequential requests on one kept-alive
// connection until told to stop, then its latencies in ms. Its own event loop, so the bench building
// megabytes of hostile JSON on the main thread never delays a /mutate it is timing.
import { Agent, request } from 'node:https';
import { parentPort, workerData } from 'node:worker_threads';

const { url, body } = workerData;
const agent = new Agent({ keepAlive: true, maxSockets: 1, rejectUnauthorized: false });
const samples = [];
let running = true;
parentPort.on('message', () => (running = false));

function post() {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve(performance.now() - started) : reject(new Error(`/mutate answered ${res.statusCode}`))));
    });
    req.setTimeout(60_000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

try {
  while (running) samples.push(await post());
  parentPort.postMessage({ samples });
} catch (err) {
  parentPort.postMessage({ error: err.message });
}
agent.destroy();
