// What the background audit keeps of each object it watches: the fields the rules and
// pod-mode-drift read, and no more, so 100,000 pods fit in a webhook's memory. Each trim is proved
// by test/unit/cluster-audit/trim.test.ts: over the repository's examples, the trimmed object gets
// exactly the findings the full object gets.
//
// The snapshot kinds (Namespace, Service, Gateway, GatewayClass, ServiceEntry) are read from the
// webhook's own snapshot store when its trim (cluster/snapshot.ts trimForSnapshot) keeps what the
// rules read, which is the case unless the policy's deprecation catalog names a field it drops.
import type { KubeObject, ObjectMeta } from '../kube.js';
import { isRecord, namespaceOf } from '../kube.js';
import { PROXY_CONTAINER } from '../mutate/running-mode.js';
import type { Policy } from '../policy/types.js';
import type { Resource } from '../cluster/resources.js';
import { snapshotKindOfResource } from '../cluster/resources.js';
import { trimMetadata, type SnapshotKind } from '../cluster/snapshot.js';

type OwnerReference = NonNullable<ObjectMeta['ownerReferences']>[number];

/** A field named by its first one or two keys: `['spec']`, `['spec', 'containers']`. */
type Field = [string] | [string, string];

const FIRST_KEYS = /^([^.[{]+)(?:\.([^.[{]+)|\["([^"]+)"\])?/;

/**
 * The fields the deprecation catalog reads in objects of a resource (policy `deprecations:`), by
 * their first two keys: a trim keeps each of them whole. An entry without a path (a whole
 * apiVersion) reads only apiVersion, which every trim keeps.
 */
export function catalogFields(policy: Policy, r: Pick<Resource, 'group' | 'kind'>): Field[] {
  const fields: Field[] = [];
  for (const entry of policy.deprecations) {
    if (entry.group !== r.group || !entry.kinds.includes(r.kind)) continue;
    for (const path of typeof entry.path === 'string' ? (entry.path ? [entry.path] : []) : entry.path) {
      const m = FIRST_KEYS.exec(path);
      if (!m) continue;
      const second = m[2] ?? m[3];
      fields.push(second === undefined ? [m[1]] : [m[1], second]);
    }
  }
  return fields;
}

/** The metadata every trim keeps (cluster/snapshot.ts trimMetadata). */
const METADATA_KEPT = new Set(['name', 'namespace', 'labels', 'annotations', 'deletionTimestamp']);

/** What trimForSnapshot keeps of each snapshot kind, beyond apiVersion and kind. */
const SNAPSHOT_KEEPS: Record<SnapshotKind, (f: Field) => boolean> = {
  Namespace: ([a, b]) => a === 'metadata' && METADATA_KEPT.has(b ?? ''),
  Service: ([a, b]) => (a === 'metadata' && METADATA_KEPT.has(b ?? '')) || (a === 'spec' && b === 'selector'),
  Gateway: snapshotKeepsSpecAndStatus,
  GatewayClass: snapshotKeepsSpecAndStatus,
  ServiceEntry: snapshotKeepsSpecAndStatus,
};
function snapshotKeepsSpecAndStatus([a, b]: Field): boolean {
  return (a === 'metadata' && METADATA_KEPT.has(b ?? '')) || a === 'spec' || a === 'status';
}

/**
 * Whether the audit can read a resource's objects from the webhook's snapshot store: it is a
 * snapshot kind, and the snapshot keeps every field the policy's catalog reads for it.
 */
export function auditReadsSnapshot(r: Resource, policy: Policy): boolean {
  const kind = snapshotKindOfResource(r);
  return kind !== undefined && catalogFields(policy, r).every(SNAPSHOT_KEEPS[kind]);
}

/**
 * The trim of a resource the audit watches itself. Every kind keeps apiVersion, kind, metadata as
 * the snapshot keeps it (no managedFields, no kubectl last-applied copy), and the catalog's fields.
 * Pods add their owner references (pod-mode-drift's owner, no-sidecar-for-jobs), spec.hostNetwork
 * (host-network) and their istio-proxy containers by name only (running-mode.ts proxyContainer);
 * every other kind keeps its whole spec (the rules walk it), but not its status.
 */
export function auditTrim(r: Resource, policy: Policy): (obj: KubeObject) => KubeObject {
  const fields = catalogFields(policy, r);
  const isPod = r.group === '' && r.kind === 'Pod';
  return (obj) => {
    const namespace = r.namespaced ? (namespaceOf(obj) ?? 'default') : undefined;
    const metadata = trimMetadata(obj.metadata, namespace);
    const out: KubeObject = { apiVersion: obj.apiVersion, kind: obj.kind, metadata };
    const spec: unknown = obj.spec;
    if (isPod) {
      const refs = isRecord(obj.metadata) ? obj.metadata.ownerReferences : undefined;
      if (Array.isArray(refs))
        // Untrusted shapes are kept as they came: the readers (workload-owner.ts, pod-mode.ts) check them.
        metadata.ownerReferences = refs.filter(isRecord).map(({ apiVersion, kind, name, controller }) => ({ apiVersion, kind, name, controller }) as OwnerReference);
      if (isRecord(spec)) {
        const kept: Record<string, unknown> = {};
        if (spec.hostNetwork !== undefined) kept.hostNetwork = spec.hostNetwork;
        for (const list of ['containers', 'initContainers'] as const) {
          const proxies = Array.isArray(spec[list]) ? (spec[list] as unknown[]).filter((c) => isRecord(c) && c.name === PROXY_CONTAINER) : [];
          if (proxies.length) kept[list] = proxies.map(() => ({ name: PROXY_CONTAINER }));
        }
        out.spec = kept;
      }
    } else if (spec !== undefined) {
      out.spec = spec;
    }
    for (const [a, b] of fields) {
      if (a === 'metadata' && b !== undefined && METADATA_KEPT.has(b)) continue;
      const value = (obj as Record<string, unknown>)[a];
      if (value === undefined) continue;
      if (b === undefined || !isRecord(value)) {
        out[a] = value;
        continue;
      }
      if (!Object.hasOwn(value, b)) continue;
      const current = out[a];
      const into = isRecord(current) ? current : (out[a] = {} as Record<string, unknown>);
      into[b] = value[b];
    }
    return out;
  };
}
