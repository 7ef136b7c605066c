import type { Outcome } from './outcome.js';
import type { ReviewVersion } from './review.js';

/** The AdmissionReview kube-apiserver expects back: same apiVersion, `uid` echoed (k8s.io/api/admission/v1). */
export function admissionResponse(apiVersion: ReviewVersion, uid: string, outcome: Outcome) {
  const response: Record<string, unknown> = { uid, allowed: outcome.allowed };
  if (!outcome.allowed) {
    response.status = { status: 'Failure', code: 403, reason: 'Forbidden', message: outcome.denial ?? 'denied' };
  }
  if (outcome.allowed && outcome.patch?.length) {
    response.patchType = 'JSONPatch';
    response.patch = Buffer.from(JSON.stringify(outcome.patch)).toString('base64');
  }
  if (outcome.warnings.length) response.warnings = outcome.warnings;
  if (outcome.auditAnnotations) response.auditAnnotations = outcome.auditAnnotations;
  return { apiVersion, kind: 'AdmissionReview', response };
}
