/**
 * Lets waiting work go one job per event-loop turn. Node reads every socket that is ready in one poll
 * phase and runs what each request starts before it polls again; a client that keeps several /validate
 * requests in flight would then put all of their decisions in front of a /mutate read in the same
 * phase. A /validate that waits its turn here runs in a check phase (setImmediate), one per loop
 * iteration, so the poll phase between two of them answers the /mutate requests that arrived.
 */
export interface Turns {
  /** Resolves when it is this caller's turn (first come, first served). */
  next(): Promise<void>;
  /** Callers still waiting. */
  readonly waiting: number;
}

export function createTurns(): Turns {
  const queue: (() => void)[] = [];
  let scheduled = false;
  // An immediate queued by a running immediate runs in the next iteration, after the next poll phase.
  const runOne = () => {
    const go = queue.shift();
    scheduled = queue.length > 0;
    if (scheduled) setImmediate(runOne);
    go?.();
  };
  return {
    next: () =>
      new Promise<void>((resolve) => {
        queue.push(resolve);
        if (!scheduled) {
          scheduled = true;
          setImmediate(runOne);
        }
      }),
    get waiting() {
      return queue.length;
    },
  };
}
