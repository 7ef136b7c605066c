import type { GroupVersionKind, KubeObject } from '../kube.js';
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

/** Checks that a parsed body is an AdmissionReview request kube-apiserver could have sent. */
export function decodeReview(body: unknown): Decoded {
  if (!isRecord(body)) return { ok: false, message: 'body must be a JSON object (an AdmissionReview)' };
  if (body.kind !== 'AdmissionReview') return { ok: false, message: `kind must be "AdmissionReview", got ${JSON.stringify(body.kind ?? null)}` };
  if (!REVIEW_VERSIONS.includes(body.apiVersion as ReviewVersion))
    return { ok: false, message: `apiVersion must be one of ${REVIEW_VERSIONS.join(', ')}, got ${JSON.stringify(body.apiVersion ?? null)}` };
  const req = body.request;
  if (!isRecord(req)) return { ok: false, message: 'AdmissionReview has no request' };
  if (typeof req.uid !== 'string' || req.uid === '') return { ok: false, message: 'request.uid is missing' };
  if (!isRecord(req.kind) || typeof req.kind.kind !== 'string' || typeof req.kind.version !== 'string')
    return { ok: false, message: 'request.kind must have group, version and kind' };
  if (!OPERATIONS.includes(req.operation as string))
    return { ok: false, message: `request.operation must be one of ${OPERATIONS.join(', ')}` };
  for (const field of ['object', 'oldObject'] as const) {
    if (req[field] !== undefined && req[field] !== null && !isRecord(req[field]))
      return { ok: false, message: `request.${field} must be an object` };
  }
  const kind = { group: typeof req.kind.group === 'string' ? req.kind.group : '', version: req.kind.version, kind: req.kind.kind };
  return {
    ok: true,
    apiVersion: body.apiVersion as ReviewVersion,
    request: { ...(req as unknown as AdmissionRequest), kind, dryRun: req.dryRun === true },
  };
}
