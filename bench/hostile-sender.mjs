// Sends one case's hostile objects to /validate for a window, batch after batch, from its own thread
// at nice 19 (bench/hostile.mjs): the attacker's CPU (building megabytes of JSON, encrypting them)
// shares this 2-core machine with the server, and a real attacker's would not, so it yields to the
// server and to the /mutate client whose latency is being measured.
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { CASES, serial } from './hostile-cases.mjs';

// Linux keeps a nice value per thread; /proc/thread-self names this one.
setPriority(Number.parseInt(readFileSync('/proc/thread-self/stat', 'utf8'), 10), 19);
const { base, name, windowS, serialBase } = workerData;
serial.next = serialBase;

function post(agent, path, body, timeoutMs = 60_000) {
  return new Promise((resolve) => {
    const started = performance.now();
    const req = request(`${base}${path}`, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }, rejectUnauthorized: false }, (res) => {
      let bytes = 0;
      res.on('data', (c) => (bytes += c.length));
      res.on('end', () => resolve({ status: res.statusCode, bytes, ms: performance.now() - started }));
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error('timeout')));
    req.on('error', (err) => resolve({ status: 0, error: err.message, bytes: 0, ms: performance.now() - started }));
    req.end(body);
  });
}

const agent = new Agent({ keepAlive: true, maxSockets: 8, rejectUnauthorized: false });
const answers = [];
const deadline = performance.now() + windowS * 1000;
do {
  const bodies = CASES[name].bodies().map((b) => JSON.stringify(b));
  answers.push(...(await Promise.all(bodies.map((b) => post(agent, '/validate', b)))));
} while (performance.now() < deadline);
agent.destroy();
parentPort.postMessage(answers);
