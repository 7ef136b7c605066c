import { spawn } from 'node:child_process';
import { openSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import autocannon from 'autocannon';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Starts a server process and resolves once `ready(line)` sees its start-up line. */
export async function startProcess(args, { ready, logFile, env } = {}) {
  const out = logFile ? openSync(logFile, 'a') : 'ignore';
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } });
  await new Promise((resolve, reject) => {
    let seen = '';
    const onData = (d) => {
      seen += d;
      if (ready(seen)) {
        proc.stdout.off('data', onData);
        // From here on, the server's log lines go to the log file, as they would to a container log.
        if (logFile) proc.stdout.on('data', (chunk) => import('node:fs').then((fs) => fs.writeSync(out, chunk)));
        else proc.stdout.resume();
        resolve();
      }
    };
    proc.stdout.on('data', onData);
    proc.on('exit', (code) => reject(new Error(`${args.join(' ')} exited ${code}: ${seen}`)));
  });
  return {
    proc,
    async stop() {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await Promise.race([exited, sleep(5000).then(() => proc.kill('SIGKILL'))]);
    },
    async rssMb() {
      const status = await readFile(`/proc/${proc.pid}/status`, 'utf8');
      return Number(status.match(/VmRSS:\s+(\d+)/)[1]) / 1024;
    },
  };
}

/** One autocannon run; returns requests/s and latency percentiles in ms. Fails on any non-2xx or error. */
export async function load({ url, body, connections, duration }) {
  const result = await autocannon({
    url,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
    connections,
    duration,
    pipelining: 1,
  });
  if (result.errors || result.non2xx || result.timeouts) {
    throw new Error(`${url}: ${result.errors} errors, ${result.non2xx} non-2xx, ${result.timeouts} timeouts`);
  }
  return {
    rps: Math.round(result.requests.average),
    p50: result.latency.p50,
    p99: result.latency.p99,
    requests: result.requests.total,
  };
}

export const ratio = (a, b) => Math.round((a / b) * 100) / 100;
