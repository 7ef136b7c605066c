import { isRecord } from '../kube.js';

/**
 * Whether labels match a Kubernetes LabelSelector (metav1.LabelSelectorAsSelector semantics): a
 * missing selector matches nothing, an empty one everything, and an invalid one (unknown operator,
 * In/NotIn without values, Exists/DoesNotExist with values) nothing, as istiod then fails closed.
 */
export function matchesLabelSelector(selector: unknown, labels: Record<string, string>): boolean {
  if (!isRecord(selector)) return false;
  const { matchLabels, matchExpressions } = selector;
  if (matchLabels !== undefined && matchLabels !== null) {
    if (!isRecord(matchLabels)) return false;
    for (const [key, value] of Object.entries(matchLabels)) if (labels[key] !== value) return false;
  }
  if (matchExpressions !== undefined && matchExpressions !== null) {
    if (!Array.isArray(matchExpressions)) return false;
    return matchExpressions.every((expr) => matchesExpression(expr, labels));
  }
  return true;
}

function matchesExpression(expr: unknown, labels: Record<string, string>): boolean {
  if (!isRecord(expr) || typeof expr.key !== 'string') return false;
  const values = expr.values ?? [];
  if (!Array.isArray(values) || !values.every((v) => typeof v === 'string')) return false;
  const present = Object.hasOwn(labels, expr.key);
  switch (expr.operator) {
    case 'In':
      return values.length > 0 && present && values.includes(labels[expr.key]);
    case 'NotIn':
      return values.length > 0 && (!present || !values.includes(labels[expr.key]));
    case 'Exists':
      return values.length === 0 && present;
    case 'DoesNotExist':
      return values.length === 0 && !present;
    default:
      return false;
  }
}
