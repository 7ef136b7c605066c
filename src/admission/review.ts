import type { GroupVersionKind, KubeObject } from '../kube.js';
import { clientText, quoted, shownValue } from '../client-text.js';
import { isRecord } from '../kube.js';

/** admission.k8s.io AdmissionRequest, the fields meshguard reads (k8s.io/api/admission/v1/types.go). */
export interface AdmissionRequest {
  uid: string;
  kind: GroupVersionKind;
  /** The kind the client asked for, when kube-apiserver converted it (matchPolicy: Equivalent). */
  requestKind?: GroupVersionKind;
  resource?: { group: string; version: string; resource: string };
  subResource?: string;
  name?: string;
  namespace?: string;
  operation: 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';
  userInfo?: { username?: string; uid?: string; groups?: string[] };
  object?: KubeObject | null;
  oldObject?: KubeObject | null;
  dryRun?: boolean;
}

export const REVIEW_VERSIONS = ['admission.k8s.io/v1', 'admission.k8s.io/v1beta1'] as const;
export type ReviewVersion = (typeof REVIEW_VERSIONS)[number];

export type Decoded =
  | { ok: true; apiVersion: ReviewVersion; request: AdmissionRequest }
  | { ok: false; message: string };

const OPERATIONS = ['CREATE', 'UPDATE', 'DELETE', 'CONNECT'];

const UID_MAX = 256;

type Problem = string | undefined;
const optional = (value: unknown) => value === undefined || value === null;
const stringOrAbsent = (value: unknown, field: string): Problem =>
  optional(value) || typeof value === 'string' ? undefined : `${field} must be a string, got ${shownValue(value)}`;
const stringFields = (value: unknown, field: string, names: readonly string[]): Problem =>
  !isRecord(value)
    ? `${field} must be an object with ${names.join(', ')}`
    : names.map((n) => stringOrAbsent(value[n], `${field}.${n}`)).find((p) => p !== undefined);

/**
 * The request fields meshguard reads, with the types kube-apiserver sends (k8s.io/api/admission/v1
 * AdmissionRequest). A wrong type is a 400 naming the field: a deeply nested `namespace` or a `kind`
 * that is a list must never reach a log line, a lookup or a message.
 */
function requestProblem(req: Record<string, unknown>): Problem {
  if (typeof req.uid !== 'string' || req.uid === '') return 'request.uid is missing';
  // kube-apiserver's uids are UUIDs; the uid is echoed in the response, so a huge one would be too.
  if (req.uid.length > UID_MAX) return `request.uid must be at most ${UID_MAX} characters, got ${req.uid.length}`;
  if (!isRecord(req.kind) || typeof req.kind.kind !== 'string' || typeof req.kind.version !== 'string')
    return 'request.kind must have group, version and kind';
  if (!OPERATIONS.includes(req.operation as string)) return `request.operation must be one of ${OPERATIONS.join(', ')}`;
  return (
    stringFields(req.kind, 'request.kind', ['group', 'version', 'kind']) ??
    (optional(req.requestKind) ? undefined : stringFields(req.requestKind, 'request.requestKind', ['group', 'version', 'kind'])) ??
    (optional(req.resource) ? undefined : stringFields(req.resource, 'request.resource', ['group', 'version', 'resource'])) ??
    stringOrAbsent(req.subResource, 'request.subResource') ??
    stringOrAbsent(req.name, 'request.name') ??
    stringOrAbsent(req.namespace, 'request.namespace') ??
    (optional(req.userInfo) ? undefined : stringFields(req.userInfo, 'request.userInfo', ['username', 'uid'])) ??
    (optional(req.dryRun) || typeof req.dryRun === 'boolean' ? undefined : `request.dryRun must be true or false, got ${shownValue(req.dryRun)}`) ??
    (['object', 'oldObject'] as const).map((f) => (optional(req[f]) || isRecord(req[f]) ? undefined : `request.${f} must be an object`)).find((p) => p !== undefined)
  );
}

/**
 * Parses a request body's bytes as JSON, as Fastify's parser would for /mutate: a leading byte order
 * mark is allowed, and `__proto__` keys stay data (JSON.parse makes them own properties).
 */
export function parseReviewBody(body: Uint8Array): { ok: true; value: unknown } | { ok: false; message: string } {
  const text = Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
  try {
    return { ok: true, value: JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text) };
  } catch (err) {
    return { ok: false, message: `body is not valid JSON: ${clientText((err as Error).message, 1024)}` };
  }
}

/** Checks that a parsed body is an AdmissionReview request kube-apiserver could have sent. */
export function decodeReview(body: unknown): Decoded {
  if (!isRecord(body)) return { ok: false, message: 'body must be a JSON object (an AdmissionReview)' };
  if (body.kind !== 'AdmissionReview') return { ok: false, message: `kind must be "AdmissionReview", got ${quoted(body.kind ?? null)}` };
  if (!REVIEW_VERSIONS.includes(body.apiVersion as ReviewVersion))
    return { ok: false, message: `apiVersion must be one of ${REVIEW_VERSIONS.join(', ')}, got ${quoted(body.apiVersion ?? null)}` };
  const req = body.request;
  if (!isRecord(req)) return { ok: false, message: 'AdmissionReview has no request' };
  const problem = requestProblem(req);
  if (problem) return { ok: false, message: problem };
  const k = req.kind as Record<string, string>;
  const kind = { group: k.group ?? '', version: k.version, kind: k.kind };
  return {
    ok: true,
    apiVersion: body.apiVersion as ReviewVersion,
    request: {
      ...(req as unknown as AdmissionRequest),
      kind,
      name: (req.name as string | null) ?? undefined,
      namespace: (req.namespace as string | null) ?? undefined,
      dryRun: req.dryRun === true,
    },
  };
}
