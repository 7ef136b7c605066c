import { clientText, quoted } from '../client-text.js';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply } from 'fastify';
import type { Logger } from 'pino';
import { UNDECIDED, type Outcome } from '../admission/outcome.js';
import { admissionResponse } from '../admission/respond.js';
import { decodeReview, parseReviewBody, type ReviewVersion } from '../admission/review.js';
import { auditRecord, auditSubject, type AuditSubject, type NamespaceLookupRecord } from '../audit/record.js';
import type { NamespaceLookup } from '../cluster/namespace-lookup.js';
import type { ClusterStore } from '../cluster/snapshot.js';
import { admitMutation, type PodChecksAt } from '../mutate/admit-pod.js';
import { admitValidation, validationInput } from '../validate/admit.js';
import { checksRegexes, regexCount } from '../validate/virtual-service.js';
import { governingNamespace } from '../policy/namespace-config.js';
import type { Policy } from '../policy/types.js';
import { readBodyBytes } from './body-bytes.js';
import { TLS_SERVER_OPTIONS } from './tls.js';
import { createTurns } from './turns.js';
import type { Metrics, Webhook } from './metrics.js';
import { createRegexCompiler } from './regex-compiler.js';
import { createValidationPool, VALIDATION_LIMITS, type PoolOptions } from './validation-pool.js';

/** A VirtualService review with more regexes than `limit` (a walk of its regex fields, no estimate). */
function manyRegexes(body: unknown, limit: number): boolean {
  const decoded = decodeReview(body);
  return decoded.ok && checksRegexes(validationInput(decoded.request)) && regexCount(decoded.request.object) > limit;
}

/** kube-apiserver caps request bodies at 3 MiB of object; 6 MiB leaves room for object + oldObject. */
export const BODY_LIMIT = 6 * 1024 * 1024;

/**
 * How long a client may take, and how many connections may be open (README "Connections"). Past a
 * bound the connection is closed; past the cap a new connection is closed at once. Each idle TLS
 * connection costs about 80 KB, so the cap keeps a connection flood well inside the memory limit.
 */
export const CONNECTION_LIMITS = {
  /** From accepting the TCP connection to a finished TLS handshake (Node's default: 120 s). */
  handshakeMs: 10_000,
  /** To receive a request's headers. */
  headersMs: 10_000,
  /** To receive a whole request, and the longest a connection may go without sending a byte. */
  requestMs: 15_000,
  /**
   * A kept-alive connection with no request in flight: longer than kube-apiserver keeps one (90 s, Go's
   * http.DefaultTransport IdleConnTimeout, which client-go's transport/cache.go takes through
   * k8s.io/apimachinery pkg/util/net/http.go SetTransportDefaults). Were it shorter, the server could close
   * a connection just as the client sends on it, and Go does not retry a POST: a failed webhook call.
   */
  idleMs: 120_000,
  /** How often Node checks the header and request timeouts (its default, 30 s, added up to 30 s to each). */
  checkEveryMs: 1_000,
  maxConnections: 1_000,
} as const;

export interface Readiness {
  ready(): boolean;
  /** Why not ready, for /readyz's body. */
  pending(): string[];
}

export interface AppOptions {
  /** Serving key and certificate; without them the app speaks plain HTTP (in-process tests only). */
  https?: { key: string; cert: string };
  policy: Policy;
  /** The cluster view the decisions read. */
  store: ClusterStore;
  readiness: Readiness;
  metrics: Metrics;
  log: Logger;
  /**
   * Live mode: fetches a request's namespace that the cache does not hold yet. Without it (standalone
   * mode) an unknown namespace gets the cluster defaults.
   */
  namespaceLookup?: NamespaceLookup;
  /** True once shutdown has begun (SIGTERM). */
  shuttingDown?: () => boolean;
  /** How long one object's regexes may take to compile (REGEX_COMPILE_TIMEOUT_MS by default). */
  regexTimeoutMs?: number;
  /** The validation workers' bounds (VALIDATION_LIMITS by default). */
  validation?: Pick<PoolOptions, 'workers' | 'deadlineMs' | 'heapMb' | 'queueWaitMs' | 'idleMs' | 'recycleBytes'> & { inlineBytes?: number; inlineRegexes?: number };
  /** Where the pod checks of a Pod CREATE run (admit-pod.ts PodChecksAt; default mutating). */
  podChecksAt?: PodChecksAt;
  /** Open connections allowed on the admission port (default CONNECTION_LIMITS.maxConnections). */
  maxConnections?: number;
}

/** The admission server: routes, envelope checks, audit and metrics around the pure decision core. */
export function buildApp(opts: AppOptions): FastifyInstance {
  const app = Fastify({
    // https.createServer takes the TLS and the http.Server options in one object.
    https: opts.https
      ? {
          ...opts.https,
          ...TLS_SERVER_OPTIONS,
          handshakeTimeout: CONNECTION_LIMITS.handshakeMs,
          headersTimeout: CONNECTION_LIMITS.headersMs,
          connectionsCheckingInterval: CONNECTION_LIMITS.checkEveryMs,
        }
      : null,
    bodyLimit: BODY_LIMIT,
    logger: false,
    // Slow or stuck clients must not hold a connection longer than the README says.
    connectionTimeout: CONNECTION_LIMITS.requestMs,
    requestTimeout: CONNECTION_LIMITS.requestMs,
    keepAliveTimeout: CONNECTION_LIMITS.idleMs,
    // A request that arrives while closing (on a kept-alive connection) is answered, not refused with
    // a 503 that a Fail-policy webhook would turn into a failed create.
    return503OnClosing: false,
    // A `__proto__` or `constructor` key is data (a VirtualService may match a header so named), not a
    // reason for a 400: JSON.parse makes it an own property and never touches Object.prototype, and
    // meshguard copies client maps only with Object.entries/fromEntries and spreads.
    onProtoPoisoning: 'ignore',
    onConstructorPoisoning: 'ignore',
    forceCloseConnections: 'idle',
  }) as unknown as FastifyInstance;
  app.server.maxConnections = opts.maxConnections ?? CONNECTION_LIMITS.maxConnections;
  // Once shutdown has begun, every response says `Connection: close`: the client retires that
  // connection itself and opens its next one through the Service (as Envoy drains HTTP/1.1), instead of
  // meeting a connection closed under its next request when meshguard stops.
  // Each handler below says so as it answers (not an onSend hook, which would put every reply through
  // Fastify's hook runner for a header needed only while stopping).
  const shuttingDown = opts.shuttingDown ?? (() => false);
  const closing = (reply: FastifyReply) => (shuttingDown() ? reply.header('connection', 'close') : reply);
  // AdmissionReviews are JSON; anything else is 415 rather than parsed as text.
  app.removeContentTypeParser('text/plain');

  app.setErrorHandler((err: FastifyError, req, reply) => {
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) opts.log.error({ err }, 'internal error answering an admission request');
    const message =
      status === 500
        ? 'internal error'
        : status === 415
          ? `content-type must be application/json, got ${quoted(req.headers['content-type'] ?? null)}`
          : clientText(err.message, 1024);
    return closing(reply).code(status).send({ error: err.code ?? 'Error', message });
  });
  app.setNotFoundHandler((req, reply) => closing(reply).code(404).send({ error: 'NotFound', message: `no route ${req.method} ${clientText(req.url)}` }));

  const regexes = createRegexCompiler(opts.regexTimeoutMs);
  app.addHook('onClose', () => regexes.close());

  /** One parsed review to its answer: envelope, a namespace the cache lacks, decision, metrics, audit line. */
  const answer = async (webhook: Webhook, body: unknown, reply: FastifyReply, started: bigint) => {
    const decoded = decodeReview(body);
    if (!decoded.ok) {
      opts.metrics.invalid(webhook);
      return closing(reply).code(400).send({ error: 'BadRequest', message: `not an AdmissionReview request: ${decoded.message}` });
    }
    const req = decoded.request;
    // A namespace the cache has not seen yet is fetched before deciding, never guessed.
    const ns = governingNamespace({ group: req.kind.group, kind: req.kind.kind, namespace: req.namespace });
    const miss = ns && opts.namespaceLookup && !opts.store.namespace(ns) ? await opts.namespaceLookup.resolve(opts.store, ns) : undefined;
    if (miss) opts.metrics.namespaceLookup(miss.result);
    let outcome = UNDECIDED;
    if (!miss || miss.result === 'fetched') {
      const snapshot = miss?.snapshot ?? opts.store;
      // Regexes compile off the event loop first; the decision itself stays synchronous and pure.
      outcome = webhook === 'mutate' ? admitMutation(req, snapshot, opts.policy, opts.podChecksAt) : admitValidation(req, snapshot, opts.policy, await regexes.forRequest(req));
    }
    const lookup = miss && (miss.result === 'fetched' ? { result: miss.result } : { result: miss.result, reason: miss.reason });
    return respond(webhook, reply, started, decoded.apiVersion, req.uid, auditSubject(webhook, req), outcome, lookup);
  };
  const respond = (webhook: Webhook, reply: FastifyReply, started: bigint, apiVersion: ReviewVersion, uid: string, subject: AuditSubject, outcome: Outcome, lookup?: NamespaceLookupRecord) => {
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    // Answered first: with no onSend hooks, send() serializes the answer and ends the response at
    // once, so it is on the socket before the decision is counted and its audit line written (the
    // same series and line as before, after the answer instead of in front of it). Returning `reply`
    // tells Fastify it has been sent.
    closing(reply).send(admissionResponse(apiVersion, uid, outcome));
    opts.metrics.record(webhook, subject, subject.operation, outcome, seconds);
    opts.log.info(auditRecord(subject, outcome, seconds * 1000, lookup), 'admission decision');
    return reply;
  };

  app.post('/mutate', (request, reply) => answer('mutate', request.body, reply, process.hrtime.bigint()));

  // A /validate body of megabytes is parsed in a worker thread, which also decides what needs no
  // cluster state (the costly hostile shapes), so /mutate on this event loop never waits behind it.
  const { inlineBytes = VALIDATION_LIMITS.inlineBytes, inlineRegexes = VALIDATION_LIMITS.inlineRegexes, ...poolLimits } = opts.validation ?? {};
  const pool = createValidationPool({
    snapshot: opts.store,
    policy: opts.policy,
    namespaceLookup: opts.namespaceLookup,
    onNamespaceLookup: (result) => opts.metrics.namespaceLookup(result),
    regexVerdicts: (patterns) => regexes.verdicts(patterns),
    ...poolLimits,
  });
  app.addHook('onClose', () => pool.close());
  const validateInWorker = async (body: Buffer, reply: FastifyReply, started: bigint): Promise<FastifyReply> => {
    const result = await pool.validate(body);
    if (result.type === 'handback') return validateHere(result.body, reply, started, false);
    if (result.type === 'refused') {
      if (result.status === 400) opts.metrics.invalid('validate');
      return closing(reply).code(result.status).send({ error: result.status === 429 ? 'TooManyRequests' : result.status === 413 ? 'PayloadTooLarge' : 'BadRequest', message: result.message });
    }
    return respond('validate', reply, started, result.apiVersion, result.uid, result.subject, result.outcome, result.lookup);
  };
  // Each /validate decided here waits for its own event-loop turn (turns.ts), so a client with many in
  // flight cannot put all of their work in front of a /mutate that arrived with them.
  const turns = createTurns();
  const validateHere = async (body: Buffer, reply: FastifyReply, started: bigint, mayHandOver = true): Promise<FastifyReply> => {
    await turns.next();
    const parsed = parseReviewBody(body);
    if (!parsed.ok) {
      opts.metrics.invalid('validate');
      return closing(reply).code(400).send({ error: 'BadRequest', message: parsed.message });
    }
    if (mayHandOver && manyRegexes(parsed.value, inlineRegexes)) return validateInWorker(body, reply, started);
    return answer('validate', parsed.value, reply, started);
  };
  void app.register((scope, _o, registered) => {
    // The body stays bytes here (BODY_LIMIT still applies), parsed here or in a worker by size (and a
    // VirtualService handed over by its regex count; one handed back is decided here).
    scope.removeContentTypeParser('application/json');
    scope.addContentTypeParser('application/json', (req, payload, done) => readBodyBytes(payload, req.headers['content-length'], BODY_LIMIT, done));
    scope.post('/validate', async (request, reply) => {
      const started = process.hrtime.bigint();
      const body = request.body as Buffer;
      return body.length <= inlineBytes ? validateHere(body, reply, started) : validateInWorker(body, reply, started);
    });
    registered();
  });

  app.get('/healthz', (_req, reply) => {
    closing(reply);
    return Promise.resolve({ status: 'ok' });
  });
  app.get('/readyz', async (_req, reply) => {
    closing(reply);
    if (opts.readiness.ready()) return { status: 'ready' };
    return reply.code(503).send({ status: 'not ready', pending: opts.readiness.pending() });
  });
  return app;
}
