// Seeded fuzz of the admission endpoints (issue 7): AdmissionReviews built from realistic objects, then
// bent with what an attacker or a broken client sends (wrong types, deep nesting, prototype names,
// huge and line-breaking strings), posted as raw JSON text. Every answer is checked: never a 5xx,
// always a well-formed response, every patch applies to the original object, and the labels after
// patching are the ones of the decided mode. Used by `npm run fuzz` (bench/fuzz.mjs) and, in a short
// run, by test/unit/admission/fuzz.test.ts. Plain erasable TypeScript: Node runs it as it is.
import fastJsonPatch, { type Operation } from 'fast-json-patch';

const { applyPatch } = fastJsonPatch;

export interface Answer {
  status: number;
  body: string;
}
/** Posts a raw JSON text to `/mutate` or `/validate` and returns the answer. */
export type Post = (url: '/mutate' | '/validate', payload: string) => Promise<Answer>;

export interface FuzzOptions {
  seed: number;
  count: number;
  /** The labels each mode sets (src/mutate/patch.ts MODE_LABELS). */
  modeLabels: Record<string, Record<string, string>>;
  /** Namespaces whose enforcement is audit (the decision is logged, never patched). */
  auditNamespaces: string[];
}

export interface FuzzResult {
  seed: number;
  reviews: number;
  byStatus: Record<string, number>;
  serverErrors: number;
  malformed: number;
  patches: number;
  patchFailures: number;
  modeMismatches: number;
  maxResponseBytes: number;
  /** The first few failures, to reproduce them: the review's index and what was wrong. */
  failures: Array<{ index: number; url: string; problem: string; body: string }>;
}

/** The namespaces the fuzz's cluster has, with their labels; fuzz.mjs and the test build the cluster from it. */
export const FUZZ_NAMESPACES: Record<string, Record<string, string>> = {
  ambient: { 'istio.io/dataplane-mode': 'ambient' },
  sidecar: { 'istio-injection': 'enabled' },
  plain: {},
  locked: { 'istio.io/dataplane-mode': 'ambient', 'meshguard.io/allow-mode-override': 'false' },
  warned: { 'meshguard.io/enforcement': 'warn' },
  audited: { 'meshguard.io/enforcement': 'audit', 'istio-injection': 'enabled' },
  off: { 'meshguard.io/enforcement': 'off' },
};

/** mulberry32: small, fast and seedable, so a failure reproduces from its seed and index. */
function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)];
  return { next, int, pick, chance: (p: number) => next() < p };
}
type Rng = ReturnType<typeof rng>;

// Text that marks where deeply nested JSON is spliced in after JSON.stringify (which would overflow
// building it): "\u0000deep:<depth>:<[ or {>\u0000".
const deepMark = (depth: number, open: '[' | '{') => `\u0000deep:${depth}:${open}\u0000`;
const DEEP_MARK = /"\\u0000deep:(\d+):([[{])\\u0000"/g;
const deepJson = (depth: number, open: string) =>
  open === '[' ? `${'['.repeat(depth)}${']'.repeat(depth)}` : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;

const PROTO_NAMES = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'prototype', '__defineGetter__'];
const MODE_VALUES = ['ambient', 'none', 'sidecar', 'true', 'false', 'enabled', '', 'Ambient'];
const MODE_KEYS = ['istio.io/dataplane-mode', 'sidecar.istio.io/inject', 'meshguard.io/mode', 'istio.io/rev', 'istio-injection', 'istio.io/use-waypoint'];

/** A value an attacker might put anywhere. */
function hostile(r: Rng): unknown {
  switch (r.int(14)) {
    case 0:
      return deepMark(r.pick([10, 1_000, 5_000, 20_000, 100_000]), '[');
    case 1:
      return deepMark(r.pick([10, 1_000, 5_000, 20_000, 100_000]), '{');
    case 2:
      return r.pick(PROTO_NAMES);
    case 3:
      return 'x'.repeat(r.pick([300, 5_000, 70_000]));
    case 4:
      return `a\u2028b\u2029c\nd\r${r.pick(PROTO_NAMES)}`;
    case 5:
      return r.pick([0, -1, 1.5, 1e308, Number.MAX_SAFE_INTEGER]);
    case 6:
      return null;
    case 7:
      return r.chance(0.5);
    case 8:
      return {};
    case 9:
      return [];
    case 10:
      return withOwnKey({ kind: 'x' }, r.pick(PROTO_NAMES), { polluted: true });
    case 11:
      return [r.pick(PROTO_NAMES), 1, { a: null }];
    case 12:
      return '\ud800';
    default:
      return r.pick(MODE_VALUES);
  }
}

/** Sets a key as an own enumerable property, `__proto__` included, so JSON.stringify writes it. */
function withOwnKey<T extends object>(obj: T, key: string, value: unknown): T {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  return obj;
}

function labelsFor(r: Rng): Record<string, string> {
  const labels: Record<string, string> = { app: 'web' };
  for (let i = r.int(3); i > 0; i--) labels[r.pick(MODE_KEYS)] = r.pick(MODE_VALUES);
  if (r.chance(0.05)) withOwnKey(labels, r.pick(PROTO_NAMES), 'x');
  return labels;
}

function podObject(r: Rng, ns: string) {
  const annotations: Record<string, string> = {};
  if (r.chance(0.3)) annotations[r.pick(['meshguard.io/mode', 'sidecar.istio.io/inject', 'sidecar.istio.io/userVolume', 'meshguard.io/decision'])] = r.pick(MODE_VALUES);
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      generateName: 'web-',
      namespace: ns,
      labels: labelsFor(r),
      ...(Object.keys(annotations).length && { annotations }),
      ...(r.chance(0.1) && { ownerReferences: [{ apiVersion: 'batch/v1', kind: r.pick(['Job', 'ReplicaSet', 'DaemonSet']), name: 'o', controller: true }] }),
    },
    spec: { ...(r.chance(0.05) && { hostNetwork: true }), containers: [{ name: 'app', image: 'app:1' }] },
  };
}

function istioObject(r: Rng, ns: string): { group: string; version: string; kind: string; object: Record<string, unknown> } {
  const meta = { name: `o${r.int(100)}`, namespace: ns, labels: r.chance(0.2) ? labelsFor(r) : undefined };
  switch (r.int(6)) {
    case 0: {
      const headers: Record<string, unknown> = { 'x-user': { exact: 'a' } };
      if (r.chance(0.5)) withOwnKey(headers, r.pick(PROTO_NAMES), { regex: r.pick(['a.*', '(?=x)', '*', '']) });
      return {
        group: 'networking.istio.io', version: r.pick(['v1', 'v1beta1', 'v1alpha3']), kind: 'VirtualService',
        object: { metadata: meta, spec: { hosts: ['web'], http: [{ match: [{ headers, uri: { regex: r.pick(['/a/.*', '[', '\\d+']) } }], route: [{ destination: { host: 'web' } }] }] } },
      };
    }
    case 1:
      return {
        group: 'security.istio.io', version: 'v1', kind: 'AuthorizationPolicy',
        object: {
          metadata: meta,
          spec: {
            ...(r.chance(0.5) && { targetRefs: [{ kind: r.pick(['Gateway', 'Service', ...PROTO_NAMES]), group: r.pick(['', 'gateway.networking.k8s.io', 'constructor']), name: r.pick(['waypoint', 'web', '__proto__']) }] }),
            action: r.pick(['ALLOW', 'DENY', 'CUSTOM', 'AUDIT']),
            rules: [{ to: [{ operation: { paths: ['/a'] } }], when: [{ key: r.pick(['request.headers[x]', 'source.ip', 'connection.sni', ...PROTO_NAMES]), values: ['v'] }] }],
          },
        },
      };
    case 2:
      return {
        group: 'gateway.networking.k8s.io', version: 'v1', kind: 'Gateway',
        object: { metadata: { ...meta, labels: { 'istio.io/waypoint-for': r.pick(['service', 'workload', 'all', 'none', 'bogus', ...PROTO_NAMES]) } }, spec: { gatewayClassName: 'istio-waypoint', listeners: [{ name: 'mesh', port: 15008, protocol: 'HBONE' }] } },
      };
    case 3:
      return { group: '', version: 'v1', kind: 'Namespace', object: { metadata: { name: ns, labels: labelsFor(r) } } };
    case 4:
      return { group: '', version: 'v1', kind: 'Service', object: { metadata: meta, spec: { ports: [{ port: 80 }] } } };
    default:
      return { group: 'networking.istio.io', version: 'v1alpha3', kind: r.pick(['DestinationRule', 'Sidecar', 'EnvoyFilter']), object: { metadata: meta, spec: {} } };
  }
}

type Obj = Record<string, unknown>;
/** `value` when it is a JSON object, else undefined. */
const obj = (value: unknown): Obj | undefined => (typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Obj) : undefined);

/** Replaces (or removes) one field at a random place of the review, envelope fields most often. */
function bend(r: Rng, review: Obj) {
  const req = obj(review.request) ?? {};
  const targets: Array<[Obj, string]> = [
    [review, 'apiVersion'], [review, 'kind'], [req, 'uid'], [req, 'kind'], [req, 'operation'], [req, 'name'], [req, 'namespace'],
    [req, 'userInfo'], [req, 'requestKind'], [req, 'subResource'], [req, 'dryRun'], [req, 'object'], [req, 'oldObject'], [req, 'resource'],
  ];
  const kind = obj(req.kind);
  if (kind) targets.push([kind, 'group'], [kind, 'version'], [kind, 'kind'], [kind, 'group']);
  const object = obj(req.object);
  const meta = obj(object?.metadata);
  if (meta) targets.push([meta, 'labels'], [meta, 'annotations'], [meta, 'name'], [meta, 'generateName'], [meta, 'namespace'], [meta, 'ownerReferences']);
  const labels = obj(meta?.labels);
  if (labels) targets.push([labels, r.pick(MODE_KEYS)], [labels, r.pick(PROTO_NAMES)]);
  const spec = obj(object?.spec);
  if (object && spec) targets.push([object, 'spec'], [spec, r.pick(['rules', 'http', 'targetRefs', 'selector', 'containers'])]);
  const [holder, key] = r.pick(targets);
  if (r.chance(0.08)) delete holder[key];
  else withOwnKey(holder, key, hostile(r));
}

export interface FuzzCase {
  url: '/mutate' | '/validate';
  payload: string;
  review: Obj;
}

/** The `index`-th review of the run seeded `seed`: the same seed and index give the same review. */
export function fuzzCase(seed: number, index: number): FuzzCase {
  const r = rng(seed * 1_000_003 + index);
  const ns = r.pick([...Object.keys(FUZZ_NAMESPACES), 'unknown']);
  const mutate = r.chance(0.5);
  let request: Record<string, unknown>;
  if (mutate) {
    request = { kind: { group: '', version: 'v1', kind: 'Pod' }, resource: { group: '', version: 'v1', resource: 'pods' }, namespace: ns, operation: 'CREATE', object: podObject(r, ns) };
  } else {
    const { group, version, kind, object } = istioObject(r, ns);
    request = { kind: { group, version, kind }, namespace: kind === 'Namespace' ? undefined : ns, name: (object.metadata as { name?: string }).name, operation: r.pick(['CREATE', 'UPDATE', 'DELETE']), object: { apiVersion: group ? `${group}/${version}` : version, kind, ...object } };
    if (request.operation === 'UPDATE') request.oldObject = structuredClone(request.object);
    if (request.operation === 'DELETE') [request.oldObject, request.object] = [request.object, null];
  }
  const review: Obj = {
    apiVersion: r.chance(0.9) ? 'admission.k8s.io/v1' : 'admission.k8s.io/v1beta1',
    kind: 'AdmissionReview',
    request: { uid: `fuzz-${seed}-${index}`, userInfo: { username: 'fuzz' }, dryRun: false, ...request },
  };
  // A quarter are left intact: valid reviews must keep getting valid decisions.
  for (let n = r.chance(0.25) ? 0 : 1 + r.int(3); n > 0; n--) bend(r, review);
  const payload = JSON.stringify(review).replace(DEEP_MARK, (_m, depth: string, open: string) => deepJson(Number(depth), open));
  return { url: mutate ? '/mutate' : '/validate', payload, review };
}

/** Checks one answer; returns what is wrong with it, or undefined. */
export function checkAnswer(c: FuzzCase, answer: Answer, opts: FuzzOptions): { problem?: string; serverError?: boolean; patched?: boolean; patchFailed?: boolean; modeMismatch?: boolean } {
  if (answer.status >= 500) return { problem: `status ${answer.status}`, serverError: true };
  let body: Obj | undefined;
  try {
    body = obj(JSON.parse(answer.body));
  } catch {
    return { problem: `status ${answer.status} with a body that is not JSON` };
  }
  if (answer.status !== 200) {
    if (answer.status < 400 || typeof body?.message !== 'string') return { problem: `status ${answer.status} without an error message` };
    return {};
  }
  const sent = obj(JSON.parse(c.payload)) ?? {};
  const request = obj(sent.request);
  const res = obj(body?.response);
  if (body?.kind !== 'AdmissionReview' || body.apiVersion !== sent.apiVersion) return { problem: 'not an AdmissionReview of the request apiVersion' };
  if (!res || res.uid !== request?.uid || typeof res.allowed !== 'boolean') return { problem: 'response without the echoed uid or allowed' };
  const status = obj(res.status);
  if (!res.allowed && (status?.code !== 403 || typeof status.message !== 'string' || !status.message.startsWith('['))) return { problem: 'denial without code 403 and a [rule-id] message' };
  if (res.warnings !== undefined && (!Array.isArray(res.warnings) || res.warnings.some((w: unknown) => typeof w !== 'string'))) return { problem: 'warnings that are not strings' };
  const mode = obj(res.auditAnnotations)?.mode;
  let labels = obj(obj(obj(request?.object)?.metadata)?.labels);
  if (res.patch !== undefined) {
    if (!res.allowed || res.patchType !== 'JSONPatch' || typeof res.patch !== 'string') return { problem: 'a patch without patchType JSONPatch, or on a denial' };
    let patched: unknown;
    try {
      const ops = JSON.parse(Buffer.from(res.patch, 'base64').toString('utf8')) as Operation[];
      // Applied in place to a fresh parse of what was sent: cloning a deeply nested object would overflow.
      const original = obj(obj(JSON.parse(c.payload))?.request)?.object;
      patched = applyPatch(original, ops, true, true).newDocument;
    } catch (err) {
      return { problem: `patch does not apply: ${(err as Error).message.slice(0, 200)}`, patched: true, patchFailed: true };
    }
    labels = obj(obj(obj(patched)?.metadata)?.labels);
  }
  if (typeof mode === 'string' && res.allowed && !opts.auditNamespaces.includes(request?.namespace as string)) {
    const want = opts.modeLabels[mode];
    const wrong = !want || Object.entries(want).some(([k, v]) => !labels || !Object.hasOwn(labels, k) || labels[k] !== v);
    if (wrong) return { problem: `labels after patching do not match mode ${mode}`, patched: res.patch !== undefined, modeMismatch: true };
  }
  return { patched: res.patch !== undefined };
}

/** Runs `count` reviews through `post` and tallies the answers. */
export async function runFuzz(post: Post, opts: FuzzOptions, onProgress?: (done: number) => void): Promise<FuzzResult> {
  const result: FuzzResult = {
    seed: opts.seed, reviews: 0, byStatus: {}, serverErrors: 0, malformed: 0, patches: 0, patchFailures: 0, modeMismatches: 0, maxResponseBytes: 0, failures: [],
  };
  for (let i = 0; i < opts.count; i++) {
    const c = fuzzCase(opts.seed, i);
    let answer: Answer;
    try {
      answer = await post(c.url, c.payload);
    } catch (err) {
      answer = { status: 599, body: String(err) };
    }
    result.reviews++;
    result.byStatus[answer.status] = (result.byStatus[answer.status] ?? 0) + 1;
    result.maxResponseBytes = Math.max(result.maxResponseBytes, Buffer.byteLength(answer.body));
    const check = checkAnswer(c, answer, opts);
    if (check.patched) result.patches++;
    if (check.patchFailed) result.patchFailures++;
    if (check.modeMismatch) result.modeMismatches++;
    if (check.serverError) result.serverErrors++;
    else if (check.problem && !check.patchFailed && !check.modeMismatch) result.malformed++;
    if (check.problem && result.failures.length < 20)
      result.failures.push({ index: i, url: c.url, problem: check.problem, body: answer.body.slice(0, 300) });
    if (onProgress && (i + 1) % 10_000 === 0) onProgress(i + 1);
  }
  return result;
}
