import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { UNDECIDED, type Outcome } from '../admission/outcome.js';
import { decodeReview, type ReviewVersion } from '../admission/review.js';
import { auditSubject, type AuditSubject, type NamespaceLookupRecord } from '../audit/record.js';
import { clientText } from '../client-text.js';
import { ClusterStore, withNamespace, type ClusterSnapshot, type StoreChange } from '../cluster/snapshot.js';
import type { KubeObject } from '../kube.js';
import { governingNamespace } from '../policy/namespace-config.js';
import type { Enforcement, Policy } from '../policy/types.js';
import { admitValidation, validationEnforcement } from '../validate/admit.js';
import { createRegexCompiler, type RegexCompiler } from './regex-compiler.js';
import { lowerThreadPriority } from './thread-priority.js';

/** `workerData.role` that makes this module a validation worker (./validation-pool.ts starts it). */
export const VALIDATION_WORKER = 'meshguard-validation';

export interface WorkerSetup {
  role: typeof VALIDATION_WORKER;
  policy: Policy;
  /** Live mode: a Namespace the replica lacks is asked of the main thread, which fetches it. */
  lookup: boolean;
  regexTimeoutMs?: number;
}

/** What the main thread's NamespaceLookup found for a Namespace the replica lacks. */
export type NamespaceAnswer = { result: 'fetched'; namespace: KubeObject } | { result: 'not-found' | 'failed'; reason: string };

export type ToWorker =
  | { type: 'changes'; changes: StoreChange[] }
  | { type: 'validate'; id: number; body: Uint8Array }
  | { type: 'namespace'; id: number; answer: NamespaceAnswer };

/**
 * What a worker says about one request, in this order: `invalid` (a 400) ends it; otherwise
 * `need-namespace` at most once, then `decoded` (enough for the main thread to answer and audit
 * the request should the worker not finish), then `decided`.
 */
export type FromWorker =
  | { type: 'ready' }
  | { id: number; type: 'invalid'; message: string }
  | { id: number; type: 'need-namespace'; name: string }
  | { id: number; type: 'decoded'; apiVersion: ReviewVersion; uid: string; subject: AuditSubject; enforcement?: Enforcement }
  | { id: number; type: 'decided'; outcome: Outcome; lookup?: NamespaceLookupRecord }
  | { id: number; type: 'failed'; message: string };

type Said = FromWorker extends infer M ? (M extends { id: number } ? Omit<M, 'id'> : never) : never;

export interface ValidationContext {
  snapshot: ClusterSnapshot;
  policy: Policy;
  regexes: RegexCompiler;
  namespace?: (name: string) => Promise<NamespaceAnswer>;
  say: (message: Said) => void;
}

/**
 * One /validate request from its body's bytes to its decision: parse, check the envelope, read a
 * missing namespace through the main thread, compile regexes, run the pure core. The response, the
 * audit line and the metrics are the main thread's, from what this says.
 */
export async function validateBody(body: Uint8Array, ctx: ValidationContext): Promise<void> {
  let parsed: unknown;
  try {
    const text = Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
    // A byte order mark is allowed before JSON (as Fastify's own JSON parser allows it).
    parsed = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (err) {
    return ctx.say({ type: 'invalid', message: `body is not valid JSON: ${clientText((err as Error).message, 1024)}` });
  }
  const decoded = decodeReview(parsed);
  if (!decoded.ok) return ctx.say({ type: 'invalid', message: `not an AdmissionReview request: ${decoded.message}` });
  const req = decoded.request;
  // A namespace the cache has not seen yet is fetched before deciding, never guessed.
  const ns = governingNamespace({ group: req.kind.group, kind: req.kind.kind, namespace: req.namespace });
  let snapshot = ctx.snapshot;
  let lookup: NamespaceLookupRecord | undefined;
  if (ns && ctx.namespace && !snapshot.namespace(ns)) {
    const answer = await ctx.namespace(ns);
    lookup = answer.result === 'fetched' ? { result: 'fetched' } : answer;
    if (answer.result === 'fetched') snapshot = withNamespace(snapshot, ns, answer.namespace);
  }
  const undecided = lookup !== undefined && lookup.result !== 'fetched';
  const enforcement = undecided ? undefined : validationEnforcement(req, snapshot, ctx.policy);
  ctx.say({ type: 'decoded', apiVersion: decoded.apiVersion, uid: req.uid, subject: auditSubject('validate', req), enforcement });
  let outcome = UNDECIDED;
  if (!undecided) {
    // Regexes compile in their own worker first; the decision itself stays synchronous and pure.
    const verdicts = await ctx.regexes.forRequest(req);
    outcome = admitValidation(req, snapshot, ctx.policy, verdicts);
  }
  ctx.say({ type: 'decided', outcome, ...(lookup && { lookup }) });
}

// Started as a worker: a replica of the main thread's ClusterStore, fed by its changes, and one
// request at a time (the pool never sends a second before the first is decided).
if (!isMainThread && parentPort && (workerData as WorkerSetup | undefined)?.role === VALIDATION_WORKER) {
  const port = parentPort;
  const setup = workerData as WorkerSetup;
  // Before the regex compiler starts its thread, which inherits this priority.
  lowerThreadPriority();
  const store = new ClusterStore();
  const regexes = createRegexCompiler(setup.regexTimeoutMs);
  const waiting = new Map<number, (answer: NamespaceAnswer) => void>();
  port.on('message', (m: ToWorker) => {
    if (m.type === 'changes') for (const change of m.changes) store.apply(change);
    else if (m.type === 'namespace') waiting.get(m.id)?.(m.answer);
    else {
      const { id } = m;
      const namespace = setup.lookup
        ? (name: string) =>
            new Promise<NamespaceAnswer>((resolve) => {
              waiting.set(id, resolve);
              port.postMessage({ id, type: 'need-namespace', name } satisfies FromWorker);
            }).finally(() => waiting.delete(id))
        : undefined;
      const say = (message: Said) => port.postMessage({ ...message, id });
      validateBody(m.body, { snapshot: store, policy: setup.policy, regexes, namespace, say }).catch((err: Error) => say({ type: 'failed', message: err.stack ?? err.message }));
    }
  });
  port.postMessage({ type: 'ready' } satisfies FromWorker);
}
