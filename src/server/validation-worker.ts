import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { decodeReview, parseReviewBody, type ReviewVersion } from '../admission/review.js';
import { UNDECIDED, type Outcome } from '../admission/outcome.js';
import { auditSubject, type AuditSubject, type NamespaceLookupRecord } from '../audit/record.js';
import { ClusterStore, withNamespace, type ClusterSnapshot } from '../cluster/snapshot.js';
import type { KubeObject } from '../kube.js';
import { governingNamespace } from '../policy/namespace-config.js';
import type { Policy } from '../policy/types.js';
import { admitValidation, validationInput } from '../validate/admit.js';
import { findingsWithoutCluster, needsOnlyNamespace } from '../validate/index.js';
import type { RegexVerdicts } from '../validate/regex.js';
import { regexesToCompile } from '../validate/virtual-service.js';
import { lowerThreadPriority } from './thread-priority.js';

/** `workerData.role` that makes this module a validation worker (./validation-pool.ts starts it). */
export const VALIDATION_WORKER = 'meshguard-validation';

export interface WorkerSetup {
  role: typeof VALIDATION_WORKER;
  policy: Policy;
}

/**
 * The main thread's answer for the Namespace that governs a request: from its cache, or fetched
 * from the API server on a miss (live mode), or why there is none.
 */
export type NamespaceAnswer =
  | { result: 'cached' | 'fetched'; namespace: KubeObject }
  /** Standalone mode: the namespace is not in the cluster state; it gets the cluster defaults. */
  | { result: 'unknown' }
  | { result: 'not-found' | 'failed'; reason: string };

export type ToWorker =
  | { type: 'validate'; id: number; body: Uint8Array }
  | { type: 'namespace'; id: number; answer: NamespaceAnswer }
  | { type: 'regexes'; id: number; verdicts: RegexVerdicts };

/**
 * What a worker says about one request, in this order: `started` when it takes the request up (its
 * time counts from then); `need-namespace` and then `need-regexes`, each at most once; then one of
 * `invalid` (a 400), `handback` (the rules need the cluster: the main thread decides) or `decided`.
 */
export type FromWorker =
  | { type: 'ready' }
  | { id: number; type: 'started' }
  | { id: number; type: 'invalid'; message: string }
  | { id: number; type: 'handback'; body: Uint8Array }
  | { id: number; type: 'need-namespace'; name: string }
  /** RE2's verdicts on these patterns, from the server's one regex compiler (its cache and CPU budget). */
  | { id: number; type: 'need-regexes'; patterns: string[] }
  | { id: number; type: 'decided'; apiVersion: ReviewVersion; uid: string; subject: AuditSubject; outcome: Outcome; lookup?: NamespaceLookupRecord }
  | { id: number; type: 'failed'; message: string };

type Said = FromWorker extends infer M ? (M extends { id: number } ? Omit<M, 'id'> : never) : never;

export interface ValidationContext {
  policy: Policy;
  namespace: (name: string) => Promise<NamespaceAnswer>;
  regexes: (patterns: string[]) => Promise<RegexVerdicts>;
  /** Says one message; `transfer` moves the body's bytes instead of copying them. */
  say: (message: Said, transfer?: ArrayBuffer[]) => void;
}

const EMPTY: ClusterSnapshot = new ClusterStore();

/**
 * A large /validate body, off the event loop: parse it, and decide what needs nothing of the cluster
 * but the request's namespace (a kind no rule checks, an object over the object budget, the kinds
 * whose rules read only their namespace: VirtualServices and their regexes among them). Everything
 * else goes back to the main thread, which decides it with the cluster cache as it decides small
 * bodies: so the worker holds no copy of the cluster, and a large cluster costs no more memory for it.
 */
export async function validateBody(body: Uint8Array, ctx: ValidationContext): Promise<void> {
  const parsed = parseReviewBody(body);
  if (!parsed.ok) return ctx.say({ type: 'invalid', message: parsed.message });
  const decoded = decodeReview(parsed.value);
  if (!decoded.ok) return ctx.say({ type: 'invalid', message: `not an AdmissionReview request: ${decoded.message}` });
  const req = decoded.request;
  const input = validationInput(req);
  const rulesRun = findingsWithoutCluster(input, ctx.policy) === undefined;
  if (rulesRun && !needsOnlyNamespace(input)) return ctx.say({ type: 'handback', body }, [body.buffer as ArrayBuffer]);
  const ns = governingNamespace({ group: req.kind.group, kind: req.kind.kind, namespace: req.namespace });
  const answer = ns ? await ctx.namespace(ns) : undefined;
  // The lookup is recorded (as the main thread records its own) only when a GET was made.
  const lookup: NamespaceLookupRecord | undefined =
    answer?.result === 'fetched' ? { result: 'fetched' } : answer?.result === 'not-found' || answer?.result === 'failed' ? answer : undefined;
  const snapshot = ns && (answer?.result === 'cached' || answer?.result === 'fetched') ? withNamespace(EMPTY, ns, answer.namespace) : EMPTY;
  let outcome = UNDECIDED;
  if (!lookup || lookup.result === 'fetched') {
    const patterns = rulesRun ? regexesToCompile(input) : undefined;
    // Always a map, so no regex is compiled here, outside the compiler's cache and budget.
    const verdicts: RegexVerdicts = patterns?.length ? await ctx.regexes(patterns) : new Map();
    outcome = admitValidation(req, snapshot, ctx.policy, verdicts);
  }
  ctx.say({ type: 'decided', apiVersion: decoded.apiVersion, uid: req.uid, subject: auditSubject('validate', req), outcome, ...(lookup && { lookup }) });
}

// Started as a worker: one request at a time (the pool never sends a second before the first ends).
if (!isMainThread && parentPort && (workerData as WorkerSetup | undefined)?.role === VALIDATION_WORKER) {
  const port = parentPort;
  const setup = workerData as WorkerSetup;
  lowerThreadPriority();
  // One request at a time, and one question at a time: the answer the main thread sends resolves it.
  const waiting = new Map<number, (answer: NamespaceAnswer | RegexVerdicts) => void>();
  port.on('message', (m: ToWorker) => {
    if (m.type === 'namespace') return waiting.get(m.id)?.(m.answer);
    if (m.type === 'regexes') return waiting.get(m.id)?.(m.verdicts);
    const { id } = m;
    const ask = <T,>(question: FromWorker) =>
      new Promise<T>((resolve) => {
        waiting.set(id, resolve as (answer: NamespaceAnswer | RegexVerdicts) => void);
        port.postMessage(question);
      }).finally(() => waiting.delete(id));
    const namespace = (name: string) => ask<NamespaceAnswer>({ id, type: 'need-namespace', name });
    const regexes = (patterns: string[]) => ask<RegexVerdicts>({ id, type: 'need-regexes', patterns });
    const say = (message: Said, transfer?: ArrayBuffer[]) => port.postMessage({ ...message, id }, transfer);
    say({ type: 'started' });
    validateBody(m.body, { policy: setup.policy, namespace, regexes, say }).catch((err: Error) => say({ type: 'failed', message: err.stack ?? err.message }));
  });
  port.postMessage({ type: 'ready' } satisfies FromWorker);
}
