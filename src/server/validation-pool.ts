import type { Worker } from 'node:worker_threads';
import type { Outcome } from '../admission/outcome.js';
import type { ReviewVersion } from '../admission/review.js';
import type { AuditSubject, NamespaceLookupRecord } from '../audit/record.js';
import type { NamespaceLookup } from '../cluster/namespace-lookup.js';
import type { ClusterSnapshot } from '../cluster/snapshot.js';
import type { Policy } from '../policy/types.js';
import type { RegexVerdicts } from '../validate/regex.js';
import { VALIDATION_WORKER, type FromWorker, type NamespaceAnswer, type ToWorker, type WorkerSetup } from './validation-worker.js';
import { startWorker } from './worker-thread.js';

/**
 * The bounds of one /validate request in a worker (README `meshguard serve`). A 6 MiB body (the body
 * limit) parses in 0.1-0.9 s and at most about 82 MB of heap (two million empty lists; an object of
 * 115,000 `when` entries: 24 MB). Past the deadline the worker is ended, which frees all it held,
 * and the request is answered.
 */
export const VALIDATION_LIMITS = {
  /**
   * Bodies up to this size are parsed and decided on the main thread: parsing one takes well under a
   * millisecond, less than handing it to a worker. Kubernetes objects are rarely larger.
   */
  inlineBytes: 64 * 1024,
  /**
   * A smaller VirtualService with more regexes than this is decided in a worker too: planning its
   * regexes (a cost estimate of each, about 4 us) took 0.5 ms of the event loop for 100 of them,
   * against 0.1 ms for an ordinary one of 10 routes; handing it over costs the loop a few messages.
   */
  inlineRegexes: 20,
  /** Workers: a slow object holds up one of them, not every other /validate. */
  workers: 2,
  /** Worker time for one request (waiting for a namespace lookup not counted). */
  deadlineMs: 2_000,
  /**
   * A worker's V8 heap (old generation): a backstop far above what a body can make. Node can abort the
   * whole process when a worker reaches its limit (nodejs/node#47224; seen here with 64 MB and a
   * body that needed 82 MB), so the body limit is what bounds a worker's memory.
   */
  heapMb: 256,
  /** A request that waited this long for a free worker is refused (429): its client is about to give up (5 s). */
  queueWaitMs: 3_000,
  /**
   * A worker idle this long is ended, and started again by the next large body: the heap a
   * multi-megabyte body grew goes back to the system, and a cluster that never sends one pays for
   * no worker at all.
   */
  idleMs: 30_000,
  /**
   * A worker that parsed a body larger than this is ended once it has answered: V8 keeps the heap a
   * multi-megabyte parse grew (tens of MB) for as long as the isolate lives, and a new worker starts
   * in a few milliseconds.
   */
  recycleBytes: 1024 * 1024,
} as const;

/** What became of one /validate request. */
export type PoolAnswer =
  | { type: 'refused'; status: 400 | 413 | 429; message: string }
  /** The rules need the cluster (the object is within the budget): the main thread decides it. */
  | { type: 'handback'; body: Buffer }
  | { type: 'decided'; apiVersion: ReviewVersion; uid: string; subject: AuditSubject; outcome: Outcome; lookup?: NamespaceLookupRecord };

export interface PoolOptions {
  /** The cluster cache: the workers ask the main thread for a request's namespace from it. */
  snapshot: ClusterSnapshot;
  policy: Policy;
  namespaceLookup?: NamespaceLookup;
  /** RE2's verdicts on a worker's patterns: the server's regex compiler, with its cache and budget. */
  regexVerdicts: (patterns: string[]) => Promise<RegexVerdicts>;
  onNamespaceLookup?: (result: NamespaceLookupRecord['result']) => void;
  workers?: number;
  deadlineMs?: number;
  heapMb?: number;
  queueWaitMs?: number;
  idleMs?: number;
  recycleBytes?: number;
}

interface Job {
  id: number;
  body: Buffer;
  /** The body's size (its bytes are moved to the worker). */
  bytes: number;
  queued: number;
  done: (answer: PoolAnswer) => void;
  fail: (err: Error) => void;
  /** Worker time left; the clock stops while the main thread fetches a namespace. */
  leftMs: number;
  clockStarted?: number;
  timer?: NodeJS.Timeout;
}

interface Slot {
  worker: Worker;
  ready: boolean;
  job?: Job;
  idle?: NodeJS.Timeout;
}

/**
 * Large /validate bodies off the event loop: a few worker threads take one body at a time (its
 * bytes moved, not copied), parse it, and decide what needs no cluster state (./validation-worker.ts);
 * the main thread answers, audits and counts, and decides what they hand back. /mutate stays on the
 * main thread and never waits behind a multi-megabyte or hostile object. A worker past its deadline
 * or heap is ended and replaced.
 */
export function createValidationPool(o: PoolOptions) {
  const size = o.workers ?? VALIDATION_LIMITS.workers;
  const deadlineMs = o.deadlineMs ?? VALIDATION_LIMITS.deadlineMs;
  const heapMb = o.heapMb ?? VALIDATION_LIMITS.heapMb;
  const queueWaitMs = o.queueWaitMs ?? VALIDATION_LIMITS.queueWaitMs;
  const idleMs = o.idleMs ?? VALIDATION_LIMITS.idleMs;
  const recycleBytes = o.recycleBytes ?? VALIDATION_LIMITS.recycleBytes;
  const setup: WorkerSetup = { role: VALIDATION_WORKER, policy: o.policy };
  const slots: Array<Slot | undefined> = Array.from({ length: size }, () => undefined);
  const queue: Job[] = [];
  let nextId = 1;
  let closed = false;
  /** Called once nothing is queued or running (close() waits for it). */
  let drained: (() => void) | undefined;
  const busy = () => queue.length > 0 || slots.some((s) => s?.job);

  const post = (slot: Slot, message: ToWorker, transfer?: ArrayBuffer[]) => slot.worker.postMessage(message, transfer);

  const start = (index: number): Slot => {
    const worker: Worker = startWorker('server/validation-worker', { workerData: setup, resourceLimits: { maxOldGenerationSizeMb: heapMb } });
    worker.unref();
    const slot: Slot = { worker, ready: false };
    slots[index] = slot;
    worker.on('message', (m: FromWorker) => onMessage(slot, m));
    let error: NodeJS.ErrnoException | undefined;
    worker.on('error', (err: NodeJS.ErrnoException) => {
      error = err;
    });
    worker.on('exit', () => {
      retire(slot);
      const oom = error?.code === 'ERR_WORKER_OUT_OF_MEMORY';
      if (slot.job) unfinished(slot, oom ? `it needed more than ${heapMb} MB of memory` : `the validation worker stopped (${error?.message ?? 'exited'})`);
      // A worker that cannot even start would be restarted for ever: the waiting requests fail instead.
      else if (!slot.ready) for (const job of queue.splice(0)) job.fail(new Error(`the validation worker did not start (${error?.message ?? 'exited'})`));
      next();
    });
    return slot;
  };

  const clock = (slot: Slot, job: Job) => {
    job.clockStarted = performance.now();
    job.timer = setTimeout(() => {
      if (slot.job === job) unfinished(slot, `it took longer than ${deadlineMs} ms`);
    }, job.leftMs);
  };
  const stopClock = (job: Job) => {
    clearTimeout(job.timer);
    if (job.clockStarted !== undefined) job.leftMs -= performance.now() - job.clockStarted;
    job.clockStarted = undefined;
  };

  const retire = (slot: Slot) => {
    const index = slots.indexOf(slot);
    if (index >= 0) slots[index] = undefined;
  };
  /** Takes a slot's worker out of the pool and ends it (for one that has exited, ending is a no-op). */
  const end = (slot: Slot) => {
    retire(slot);
    void slot.worker.terminate();
  };
  const finish = (slot: Slot, answer: PoolAnswer | Error) => {
    const job = slot.job!;
    stopClock(job);
    slot.job = undefined;
    if (answer instanceof Error) job.fail(answer);
    else job.done(answer);
    if (slots.includes(slot)) {
      if (job.bytes > recycleBytes) end(slot);
      else {
        slot.idle = setTimeout(() => !slot.job && end(slot), idleMs);
        slot.idle.unref();
      }
    }
    next();
  };
  /**
   * The request's worker stopped before deciding: a 413, which the webhook's failurePolicy turns into
   * a refusal (Fail) or an admission (Ignore), as kube-apiserver does with any webhook error.
   */
  const unfinished = (slot: Slot, reason: string) => {
    // The slot is done for; a fresh worker takes the next job.
    end(slot);
    finish(slot, { type: 'refused', status: 413, message: `the AdmissionReview could not be checked: ${reason}` });
  };

  const onMessage = (slot: Slot, m: FromWorker) => {
    if (m.type === 'ready') {
      slot.ready = true;
      return next();
    }
    const job = slot.job;
    if (!job || job.id !== m.id) return;
    if (m.type === 'started') clock(slot, job);
    else if (m.type === 'invalid') finish(slot, { type: 'refused', status: 400, message: m.message });
    else if (m.type === 'handback') finish(slot, { type: 'handback', body: Buffer.from(m.body.buffer, m.body.byteOffset, m.body.byteLength) });
    else if (m.type === 'decided') {
      const { apiVersion, uid, subject, outcome, lookup } = m;
      finish(slot, { type: 'decided', apiVersion, uid, subject, outcome, ...(lookup && { lookup }) });
    } else if (m.type === 'failed') finish(slot, new Error(`validation worker: ${m.message}`));
    // The clock stops while the main thread answers: a namespace GET and the regexes' compile have their own bounds.
    else if (m.type === 'need-namespace') ask(slot, job, lookUp(m.name), (answer) => ({ type: 'namespace', id: job.id, answer }));
    else if (m.type === 'need-regexes') ask(slot, job, o.regexVerdicts(m.patterns), (verdicts) => ({ type: 'regexes', id: job.id, verdicts }));
  };
  const ask = <T,>(slot: Slot, job: Job, answer: Promise<T>, message: (answer: T) => ToWorker) => {
    stopClock(job);
    void answer.then((a) => {
      if (slot.job !== job) return;
      post(slot, message(a));
      clock(slot, job);
    });
  };

  /** The request's namespace from the cache, else (live mode) from the API server, never guessed. */
  const lookUp = async (name: string): Promise<NamespaceAnswer> => {
    const cached = o.snapshot.namespace(name);
    if (cached) return { result: 'cached', namespace: cached };
    if (!o.namespaceLookup) return { result: 'unknown' };
    const miss = await o.namespaceLookup.resolve(o.snapshot, name);
    o.onNamespaceLookup?.(miss.result);
    return miss.result === 'fetched' ? { result: 'fetched', namespace: miss.namespace } : miss;
  };

  const next = () => {
    if (drained && !busy()) drained();
    while (queue.length) {
      const index = slots.findIndex((s) => !s || (s.ready && !s.job));
      if (index < 0) return;
      const slot = slots[index] ?? start(index);
      if (!slot.ready) return;
      const job = queue.shift()!;
      if (performance.now() - job.queued > queueWaitMs) {
        job.done({ type: 'refused', status: 429, message: `meshguard was busy validating other objects for ${queueWaitMs} ms; try again` });
        continue;
      }
      slot.job = job;
      clearTimeout(slot.idle);
      // The bytes move to the worker when the Buffer owns its memory; a slice of a shared pool is copied.
      const own = job.body.byteOffset === 0 && job.body.byteLength === job.body.buffer.byteLength;
      const body = own ? new Uint8Array(job.body.buffer, 0, job.body.byteLength) : new Uint8Array(job.body);
      post(slot, { type: 'validate', id: job.id, body }, [body.buffer as ArrayBuffer]);
    }
  };

  return {
    /** Validates one request body (the raw bytes of an AdmissionReview). */
    validate(body: Buffer): Promise<PoolAnswer> {
      if (closed) return Promise.reject(new Error('the validation pool is closed'));
      return new Promise((done, fail) => {
        queue.push({ id: nextId++, body, bytes: body.length, queued: performance.now(), done, fail, leftMs: deadlineMs });
        next();
      });
    },

    /** Takes no more requests, answers those it has, then ends the workers. */
    async close(): Promise<void> {
      closed = true;
      if (busy()) await new Promise<void>((resolve) => (drained = resolve));
      await Promise.all(slots.flatMap((slot) => (slot ? [slot.worker.terminate()] : [])));
    },
  };
}

export type ValidationPool = ReturnType<typeof createValidationPool>;
