import { readFileSync } from 'node:fs';
import { setPriority } from 'node:os';

/**
 * The nice value of /validate's worker threads. /mutate runs on the main thread and fails open at
 * the chart's 3 s timeout (a pod admitted without its mode labels), so when the pod's CPU is
 * contended a large or hostile object being validated must yield to it, not share the CPU evenly.
 * At 10, CFS gives the worker about a tenth of the main thread's share when both want the same core
 * (weights 110 vs 1024), and the whole core when the main thread is idle.
 */
export const WORKER_NICE = 10;

/** The background audit's thread: no deadline at all, so it takes only what admission leaves (weight 15). */
export const AUDIT_NICE = 19;

/**
 * Lowers the priority of the calling thread only. Linux keeps a nice value per thread
 * (setpriority(2), "the nice value is a per-thread attribute"), and /proc/thread-self names the
 * calling thread's id; threads this one starts later inherit it. Raising one's own nice value needs
 * no privilege. Returns false where that is not possible (not Linux): the thread then runs as before.
 */
export function lowerThreadPriority(nice = WORKER_NICE): boolean {
  try {
    const tid = Number.parseInt(readFileSync('/proc/thread-self/stat', 'utf8'), 10);
    setPriority(tid, nice);
    return true;
  } catch {
    return false;
  }
}
