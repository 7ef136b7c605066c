import type { Worker } from 'node:worker_threads';
import type { AdmissionRequest } from '../admission/review.js';
import { compileCache, type RegexProblem, type RegexVerdicts } from '../validate/regex.js';
import { regexesToCompile } from '../validate/virtual-service.js';
import { RE2_WORKER } from './re2-worker.js';
import { startWorker } from './worker-thread.js';

/**
 * The CPU time one object's regexes may take to compile. CPU, not wall time: the compile worker runs
 * at a low priority (nice 10) so that /mutate goes first, and a compile starved of CPU by other work
 * must not deny a valid object.
 */
export const REGEX_COMPILE_TIMEOUT_MS = 1000;
/** Wall time, waiting behind other objects included, as a multiple of the CPU budget: under the validating webhook's 5 s timeout. */
const WALL_FACTOR = 3;
/** How often a running batch's CPU time is read (Worker.cpuUsage). */
const CPU_CHECK_MS = 20;

interface Job {
  patterns: string[];
  /** Wall-clock end, waiting included. */
  deadline: number;
  done: (errors: Array<string | null> | string) => void;
}

/**
 * Compiles regexes in a worker thread, so a costly object never stalls other requests on the event
 * loop. One object at a time (the machine has few cores and each object's work is bounded by
 * REGEX_BUDGET); a batch that overruns its time is stopped by terminating the worker, which also
 * frees whatever native memory it held, and a fresh worker takes the next batch.
 */
export function createRegexCompiler(timeoutMs = REGEX_COMPILE_TIMEOUT_MS, wallMs = timeoutMs * WALL_FACTOR) {
  let worker: Worker | undefined;
  type Batch = Job & { timer: NodeJS.Timeout; cpuBase?: NodeJS.CpuUsage };
  let running: Batch | undefined;
  const queue: Job[] = [];
  let closed = false;

  const finish = (result: Array<string | null> | string) => {
    const job = running!;
    clearInterval(job.timer);
    running = undefined;
    job.done(result);
    next();
  };
  const stopWorker = () => {
    const w = worker;
    worker = undefined;
    void w?.terminate();
  };
  const spawn = () => {
    const w = startWorker('server/re2-worker', { workerData: RE2_WORKER });
    w.unref();
    w.on('message', ({ errors }: { errors: Array<string | null> }) => w === worker && running && finish(errors));
    w.on('error', (err: Error) => {
      if (w !== worker) return;
      stopWorker();
      if (running) finish(`the compile worker failed (${err.message})`);
    });
    w.on('exit', () => {
      if (w !== worker) return;
      worker = undefined;
      if (running) finish('the compile worker exited');
    });
    return w;
  };
  const next = () => {
    while (!running && queue.length && !closed) {
      const job = queue.shift()!;
      const left = job.deadline - performance.now();
      if (left <= 0) {
        job.done(`they waited ${wallMs} ms behind other objects' regexes`);
        continue;
      }
      const w = (worker ??= spawn());
      const over = (reason: string) => {
        stopWorker();
        finish(reason);
      };
      const timer = setInterval(() => {
        if (running !== batch) return;
        if (performance.now() > job.deadline) return over(`compiling them took longer than ${wallMs} ms, waiting included`);
        // A worker still starting has no CPU time to read yet (the promise rejects); it is read next time.
        w.cpuUsage(batch.cpuBase).then((used) => {
          if (running === batch && (used.user + used.system) / 1000 > timeoutMs) over(`compiling them took more than ${timeoutMs} ms of CPU`);
        }, () => undefined);
      }, CPU_CHECK_MS);
      const batch: Batch = (running = { ...job, timer });
      // A fresh worker's whole CPU time counts against its first batch (its start is a few ms).
      w.cpuUsage().then((base) => (batch.cpuBase = base), () => undefined);
      w.postMessage({ patterns: job.patterns });
    }
  };

  return {
    /** What RE2 says of each pattern: cached answers at once, the others from the worker. */
    async verdicts(patterns: readonly string[]): Promise<RegexVerdicts> {
      const verdicts = new Map<string, RegexProblem | undefined>();
      const misses: string[] = [];
      for (const p of patterns) {
        const hit = compileCache.get(p);
        if (hit === undefined) misses.push(p);
        else verdicts.set(p, hit === null ? undefined : { kind: 'invalid', reason: hit });
      }
      if (misses.length === 0) return verdicts;
      const result = await new Promise<Array<string | null> | string>((done) => {
        queue.push({ patterns: misses, deadline: performance.now() + wallMs, done });
        next();
      });
      misses.forEach((p, i) => {
        if (typeof result === 'string') return void verdicts.set(p, { kind: 'not-compiled', reason: result });
        const error = result[i];
        compileCache.set(p, error);
        verdicts.set(p, error === null ? undefined : { kind: 'invalid', reason: error });
      });
      return verdicts;
    },

    /** The verdicts an AdmissionRequest's validation will need, or undefined when it compiles nothing. */
    async forRequest(req: AdmissionRequest): Promise<RegexVerdicts | undefined> {
      const patterns = regexesToCompile({ group: req.kind.group, kind: req.kind.kind, operation: req.operation, object: req.object ?? undefined });
      return patterns && this.verdicts(patterns);
    },

    async close(): Promise<void> {
      closed = true;
      for (const job of queue.splice(0)) job.done('the server is shutting down');
      if (running) finish('the server is shutting down');
      const w = worker;
      worker = undefined;
      await w?.terminate();
    },
  };
}

export type RegexCompiler = ReturnType<typeof createRegexCompiler>;
