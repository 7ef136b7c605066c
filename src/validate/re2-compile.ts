import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import RE2 from 're2';

/**
 * Compiles a pattern with the native RE2 binding (never JavaScript's RegExp: different syntax, and
 * backtracking a hostile pattern can hang); the error RE2 gives, or undefined when it compiles.
 */
export function re2Error(pattern: string): string | undefined {
  try {
    new RE2(pattern, 'u');
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

/** `workerData` that makes this module a compile worker (src/server/regex-compiler.ts starts it). */
export const RE2_WORKER = 'meshguard-re2-compile';

// Started as a worker, this file compiles batches off the main thread. It imports nothing of
// meshguard's, so the same file runs as a worker from dist/ (.js) and under vitest (.ts).
if (!isMainThread && workerData === RE2_WORKER && parentPort) {
  const port = parentPort;
  // The binding's compiled programs live outside V8's heap and are freed only when their wrappers
  // are collected; V8 does not see their size, so without a collection after each batch they pile up.
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  port.on('message', ({ id, patterns }: { id: number; patterns: string[] }) => {
    const errors = patterns.map((p) => re2Error(p) ?? null);
    gc();
    port.postMessage({ id, errors });
  });
}
