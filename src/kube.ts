// Minimal shapes of the Kubernetes objects meshguard reads. Everything a user sends is untrusted:
// fields are optional and typed loosely, and readers use the helpers below instead of trusting shapes.

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: Array<{ apiVersion?: string; kind?: string; name?: string; controller?: boolean }>;
  deletionTimestamp?: string;
  managedFields?: unknown[];
}

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
  // Rules read spec and status of many CRDs whose schemas meshguard does not own; each rule checks the
  // shape of what it reads (isRecord, typeof) before trusting it.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  spec?: any;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  status?: any;
  [key: string]: unknown;
}

export interface GroupVersionKind {
  group: string;
  version: string;
  kind: string;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const EMPTY: Record<string, string> = Object.freeze({});

/**
 * A string-valued map from untrusted input, with non-string values dropped. The input itself is
 * returned when it is already clean (the usual case), so hot paths don't copy label maps.
 */
function stringMap(value: unknown): Record<string, string> {
  if (!isRecord(value)) return EMPTY;
  let clean = true;
  for (const k in value) if (typeof value[k] !== 'string') clean = false;
  if (clean) return value as Record<string, string>;
  // fromEntries defines own keys: `out[k] = v` would drop a `__proto__` key instead of keeping it.
  return Object.fromEntries(Object.entries(value).filter((e): e is [string, string] => typeof e[1] === 'string'));
}

export function labelsOf(obj: KubeObject | undefined): Record<string, string> {
  return stringMap(isRecord(obj?.metadata) ? obj.metadata.labels : undefined);
}

export function annotationsOf(obj: KubeObject | undefined): Record<string, string> {
  return stringMap(isRecord(obj?.metadata) ? obj.metadata.annotations : undefined);
}

export function nameOf(obj: KubeObject | undefined): string | undefined {
  const name = isRecord(obj?.metadata) ? obj.metadata.name : undefined;
  return typeof name === 'string' ? name : undefined;
}

export function namespaceOf(obj: KubeObject | undefined): string | undefined {
  const ns = isRecord(obj?.metadata) ? obj.metadata.namespace : undefined;
  return typeof ns === 'string' ? ns : undefined;
}

/** Splits `group/version` (or a core `version`) into its parts. */
export function parseApiVersion(apiVersion: unknown): { group: string; version: string } {
  if (typeof apiVersion !== 'string') return { group: '', version: '' };
  const slash = apiVersion.indexOf('/');
  return slash < 0
    ? { group: '', version: apiVersion }
    : { group: apiVersion.slice(0, slash), version: apiVersion.slice(slash + 1) };
}
