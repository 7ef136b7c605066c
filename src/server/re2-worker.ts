import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { re2Error } from '../validate/re2-compile.js';
import { lowerThreadPriority } from './thread-priority.js';

/** `workerData` that makes this module a compile worker (./regex-compiler.ts starts it). */
export const RE2_WORKER = 'meshguard-re2-compile';

// Started as a worker, this file compiles batches off the main thread.
if (!isMainThread && workerData === RE2_WORKER && parentPort) {
  const port = parentPort;
  // A costly pattern compiles for a quarter of a second: /mutate on the main thread goes first. The
  // budget is the batch's CPU time, so a starved compile does not deny a valid object.
  lowerThreadPriority();
  // The binding's compiled programs live outside V8's heap and are freed only when their wrappers
  // are collected; V8 does not see their size, so without a collection after each batch they pile up.
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  port.on('message', ({ patterns }: { patterns: string[] }) => {
    const errors = patterns.map((p) => re2Error(p) ?? null);
    gc();
    port.postMessage({ errors });
  });
}
