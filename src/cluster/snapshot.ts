import type { KubeObject, ObjectMeta } from '../kube.js';
import { ISTIO } from '../labels.js';
import { isRecord, labelsOf, nameOf, namespaceOf, parseApiVersion } from '../kube.js';
import { gatewayClassName } from '../gateway-classes.js';
import { labelledMode } from '../policy/namespace-config.js';

/** An object that binds to a waypoint through `istio.io/use-waypoint` (or, 1.31, `istio.io/use-waypoint-canary`). */
export interface WaypointReferrer {
  kind: 'Namespace' | 'Service' | 'ServiceEntry';
  namespace?: string;
  name: string;
  /** Set when the object names the waypoint as its canary. */
  canary?: true;
}

/** The read-only view of the cluster that the decision core sees. Look-ups are indexed, never scans. */
export interface ClusterSnapshot {
  namespace(name: string): KubeObject | undefined;
  gateway(namespace: string, name: string): KubeObject | undefined;
  /** The Gateway API Gateways of a namespace (few; waypoint-gateway.ts's waypointsIn picks the waypoints). */
  gateways(namespace: string): KubeObject[];
  gatewayClass(name: string): KubeObject | undefined;
  /** The Gateway API Gateways of every namespace whose spec.gatewayClassName is this class. */
  gatewaysOfClass(name: string): KubeObject[];
  service(namespace: string, name: string): KubeObject | undefined;
  /** The Services of a namespace (metadata and spec.selector only). */
  services(namespace: string): KubeObject[];
  serviceEntry(namespace: string, name: string): KubeObject | undefined;
  /** Namespaces, Services and ServiceEntries whose `istio.io/use-waypoint` names this Gateway. */
  waypointReferrers(namespace: string, name: string): WaypointReferrer[];
  /** Whether some Namespace's own labels make it ambient (namespace-config.ts labelledMode). */
  hasAmbientNamespace(): boolean;
  /** Whether a kind's API is served (a missing CRD disables only the rules that need it). */
  has(kind: SnapshotKind): boolean;
}

export const SNAPSHOT_KINDS = ['Namespace', 'Gateway', 'GatewayClass', 'Service', 'ServiceEntry'] as const;
export type SnapshotKind = (typeof SNAPSHOT_KINDS)[number];

/** The API group of each kind the snapshot holds (Istio's own `Gateway` kind is a different object). */
export const SNAPSHOT_GROUPS: Record<SnapshotKind, string> = {
  Namespace: '',
  Service: '',
  Gateway: 'gateway.networking.k8s.io',
  GatewayClass: 'gateway.networking.k8s.io',
  ServiceEntry: 'networking.istio.io',
};

export function snapshotKindOf(obj: KubeObject): SnapshotKind | undefined {
  const kind = obj.kind as SnapshotKind;
  if (!SNAPSHOT_KINDS.includes(kind)) return undefined;
  return parseApiVersion(obj.apiVersion).group === SNAPSHOT_GROUPS[kind] ? kind : undefined;
}

/** kubectl's copy of the whole applied object: large, and read by no rule. */
const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

/**
 * What a cached object keeps of its metadata: what the rules read (name, namespace, labels,
 * annotations, deletionTimestamp). managedFields, kubectl's last-applied copy and the bookkeeping
 * fields are dropped, so a cache of 50,000 Services stays small.
 */
export function trimMetadata(metadata: ObjectMeta | undefined, namespace: string | undefined): ObjectMeta {
  const out: ObjectMeta = {};
  if (typeof metadata !== 'object' || metadata === null) return out;
  if (metadata.name !== undefined) out.name = metadata.name;
  if (namespace !== undefined) out.namespace = namespace;
  if (metadata.labels !== undefined) out.labels = metadata.labels;
  if (isRecord(metadata.annotations)) {
    const annotations: Record<string, string> = { ...metadata.annotations };
    delete annotations[LAST_APPLIED];
    out.annotations = annotations;
  }
  if (metadata.deletionTimestamp !== undefined) out.deletionTimestamp = metadata.deletionTimestamp;
  return out;
}

/**
 * An object as the snapshot keeps it: its metadata (above); a Namespace's `status.phase` (the live
 * cache watches Namespaces as PartialObjectMetadata, where deletionTimestamp says the same); a
 * Service's `spec.selector`, which says which pods it fronts; `spec` and `status` of Gateways,
 * GatewayClasses and ServiceEntries. Namespaced objects are filed under their namespace, or
 * `default` for a manifest without one.
 */
export function trimForSnapshot(kind: SnapshotKind, obj: KubeObject): KubeObject {
  const namespace = kind === 'Namespace' || kind === 'GatewayClass' ? undefined : namespaceOf(obj) ?? 'default';
  const out: KubeObject = { apiVersion: obj.apiVersion, kind, metadata: trimMetadata(obj.metadata, namespace) };
  const { spec, status } = obj as { spec?: unknown; status?: unknown };
  if (kind === 'Namespace') {
    if (isRecord(status) && status.phase !== undefined) out.status = { phase: status.phase };
  } else if (kind === 'Service') {
    if (isRecord(spec) && spec.selector !== undefined) out.spec = { selector: spec.selector };
  } else {
    if (spec !== undefined) out.spec = spec;
    if (status !== undefined) out.status = status;
  }
  return out;
}

const key = (namespace: string | undefined, name: string) => `${namespace ?? ''}/${name}`;

/**
 * One write to a ClusterStore, as data: what a replica (the background audit's store in its worker,
 * src/cluster-audit/audit-thread.ts) applies to stay the same as the store it follows.
 */
export type StoreChange =
  | { op: 'upsert'; object: KubeObject }
  | { op: 'remove'; kind: SnapshotKind; namespace: string | undefined; name: string }
  | { op: 'replace'; kind: SnapshotKind; objects: KubeObject[] }
  | { op: 'served'; kind: SnapshotKind; served: boolean };

/**
 * The indexed, mutable store behind a snapshot. Informers (live) and file loaders (standalone and
 * `check`) write it through upsert/remove; the core only reads it through ClusterSnapshot.
 */
export class ClusterStore implements ClusterSnapshot {
  private readonly objects = new Map<SnapshotKind, Map<string, KubeObject>>();
  private readonly gatewaysByNs = new Map<string, Map<string, KubeObject>>();
  private readonly servicesByNs = new Map<string, Map<string, KubeObject>>();
  /** class name -> `ns/gateway` -> Gateway. */
  private readonly gatewaysByClass = new Map<string, Map<string, KubeObject>>();
  /** `ns/gateway` -> referrer key -> referrer. */
  private readonly referrers = new Map<string, Map<string, WaypointReferrer>>();
  /** referrer key -> the `ns/gateway` it is indexed under, to unindex on update. */
  private readonly referrerTarget = new Map<string, string>();
  private readonly served = new Set<SnapshotKind>(SNAPSHOT_KINDS);
  private readonly ambientNamespaces = new Set<string>();
  private readonly listeners = new Set<(change: StoreChange) => void>();

  constructor(objects: KubeObject[] = []) {
    for (const obj of objects) this.upsert(obj);
  }

  /** Calls `listener` with every later write (as trimmed objects); returns the unsubscribe. */
  subscribe(listener: (change: StoreChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The whole content as changes that rebuild it in an empty store (a new replica's start). */
  changes(): StoreChange[] {
    return SNAPSHOT_KINDS.flatMap((kind): StoreChange[] => [
      { op: 'replace', kind, objects: [...this.table(kind).values()] },
      { op: 'served', kind, served: this.served.has(kind) },
    ]);
  }

  /** Applies a change another store announced. */
  apply(change: StoreChange): void {
    if (change.op === 'upsert') this.upsert(change.object);
    else if (change.op === 'remove') this.remove(change.kind, change.namespace, change.name);
    else if (change.op === 'replace') this.replace(change.kind, change.objects);
    else this.setServed(change.kind, change.served);
  }

  private announce(change: StoreChange): void {
    for (const listener of this.listeners) listener(change);
  }

  setServed(kind: SnapshotKind, served: boolean): void {
    if (served) this.served.add(kind);
    else this.served.delete(kind);
    this.announce({ op: 'served', kind, served });
  }

  has(kind: SnapshotKind): boolean {
    return this.served.has(kind);
  }

  hasAmbientNamespace(): boolean {
    return this.ambientNamespaces.size > 0;
  }

  upsert(obj: KubeObject): void {
    const placed = this.place(obj);
    if (placed && this.listeners.size) this.announce({ op: 'upsert', object: placed });
  }

  /** Makes `objects` the whole content of `kind` (after a complete LIST): the others are removed. */
  replace(kind: SnapshotKind, objects: KubeObject[]): void {
    const placed = new Map<string, KubeObject>();
    for (const obj of objects) {
      if (snapshotKindOf(obj) !== kind) continue;
      const trimmed = this.place(obj);
      if (trimmed) placed.set(key(trimmed.metadata?.namespace, nameOf(trimmed)!), trimmed);
    }
    for (const [k, obj] of this.table(kind)) if (!placed.has(k)) this.unplace(kind, obj.metadata?.namespace, nameOf(obj) ?? '');
    if (this.listeners.size) this.announce({ op: 'replace', kind, objects: [...placed.values()] });
  }

  /** Files an object under its kind and key (replacing what was there); returns it as filed. */
  private place(input: KubeObject): KubeObject | undefined {
    const kind = snapshotKindOf(input);
    const name = nameOf(input);
    if (!kind || !name) return undefined;
    const obj = trimForSnapshot(kind, input);
    const namespace = obj.metadata?.namespace;
    this.unplace(kind, namespace, name);
    const k = key(namespace, name);
    this.table(kind).set(k, obj);
    if (kind === 'Gateway') {
      let byName = this.gatewaysByNs.get(namespace!);
      if (!byName) this.gatewaysByNs.set(namespace!, (byName = new Map<string, KubeObject>()));
      byName.set(name, obj);
      const className = gatewayClassName(obj);
      if (className !== undefined) {
        let byKey = this.gatewaysByClass.get(className);
        if (!byKey) this.gatewaysByClass.set(className, (byKey = new Map<string, KubeObject>()));
        byKey.set(k, obj);
      }
    }
    if (kind === 'Service') {
      let byName = this.servicesByNs.get(namespace!);
      if (!byName) this.servicesByNs.set(namespace!, (byName = new Map<string, KubeObject>()));
      byName.set(name, obj);
    }
    if (kind === 'Namespace' || kind === 'Service' || kind === 'ServiceEntry') this.indexReferrer(kind, namespace, name, obj);
    if (kind === 'Namespace' && labelledMode(labelsOf(obj))?.defaultMode === 'ambient') this.ambientNamespaces.add(name);
    return obj;
  }

  remove(kind: SnapshotKind, namespace: string | undefined, name: string): void {
    this.unplace(kind, namespace, name);
    if (this.listeners.size) this.announce({ op: 'remove', kind, namespace, name });
  }

  private unplace(kind: SnapshotKind, namespace: string | undefined, name: string): void {
    const k = key(namespace, name);
    const old = this.table(kind).get(k);
    if (!old || !this.table(kind).delete(k)) return;
    if (kind === 'Gateway') {
      this.gatewaysByNs.get(namespace!)?.delete(name);
      const className = gatewayClassName(old);
      if (className !== undefined) this.gatewaysByClass.get(className)?.delete(k);
    }
    if (kind === 'Service') this.servicesByNs.get(namespace!)?.delete(name);
    if (kind === 'Namespace') this.ambientNamespaces.delete(name);
    for (const refKey of [`${kind}:${k}`, `${kind}:${k}:canary`]) {
      const target = this.referrerTarget.get(refKey);
      if (target !== undefined) {
        this.referrers.get(target)?.delete(refKey);
        this.referrerTarget.delete(refKey);
      }
    }
  }

  size(kind: SnapshotKind): number {
    return this.table(kind).size;
  }

  /** Every object of a kind, as kept (the background audit reads them without a second copy). */
  values(kind: SnapshotKind): IterableIterator<KubeObject> {
    return this.table(kind).values();
  }

  namespace(name: string) {
    return this.table('Namespace').get(key(undefined, name));
  }
  gateway(namespace: string, name: string) {
    return this.table('Gateway').get(key(namespace, name));
  }
  gateways(namespace: string) {
    return [...(this.gatewaysByNs.get(namespace)?.values() ?? [])];
  }
  gatewayClass(name: string) {
    return this.table('GatewayClass').get(key(undefined, name));
  }
  gatewaysOfClass(name: string) {
    return [...(this.gatewaysByClass.get(name)?.values() ?? [])];
  }
  service(namespace: string, name: string) {
    return this.table('Service').get(key(namespace, name));
  }
  services(namespace: string) {
    return [...(this.servicesByNs.get(namespace)?.values() ?? [])];
  }
  serviceEntry(namespace: string, name: string) {
    return this.table('ServiceEntry').get(key(namespace, name));
  }
  waypointReferrers(namespace: string, name: string): WaypointReferrer[] {
    return [...(this.referrers.get(key(namespace, name))?.values() ?? [])];
  }

  private table(kind: SnapshotKind): Map<string, KubeObject> {
    let t = this.objects.get(kind);
    if (!t) this.objects.set(kind, (t = new Map<string, KubeObject>()));
    return t;
  }

  private indexReferrer(kind: WaypointReferrer['kind'], namespace: string | undefined, name: string, obj: KubeObject) {
    const labels = labelsOf(obj);
    const uses = [
      { use: ISTIO.useWaypoint, ns: ISTIO.useWaypointNamespace, suffix: '' },
      { use: ISTIO.useWaypointCanary, ns: ISTIO.useWaypointCanaryNamespace, suffix: ':canary' },
    ];
    for (const { use, ns, suffix } of uses) {
      const waypoint = labels[use];
      if (!waypoint || waypoint === 'none') continue;
      const waypointNs = labels[ns] || (kind === 'Namespace' ? name : namespace!);
      const target = key(waypointNs, waypoint);
      const refKey = `${kind}:${key(namespace, name)}${suffix}`;
      let refs = this.referrers.get(target);
      if (!refs) this.referrers.set(target, (refs = new Map<string, WaypointReferrer>()));
      const ref: WaypointReferrer = namespace === undefined ? { kind, name } : { kind, namespace, name };
      refs.set(refKey, suffix ? { ...ref, canary: true } : ref);
      this.referrerTarget.set(refKey, target);
    }
  }
}

/** `snapshot` as it is, plus one Namespace it does not hold (fetched for one request, ./namespace-lookup.ts). */
export function withNamespace(snapshot: ClusterSnapshot, name: string, ns: KubeObject): ClusterSnapshot {
  // Every other look-up goes to the snapshot itself (its methods, its state), so this stays right
  // whatever the snapshot grows.
  const overlay = Object.create(snapshot) as ClusterSnapshot;
  overlay.namespace = (n: string) => (n === name ? ns : snapshot.namespace(n));
  return overlay;
}

/** `snapshot` with one GatewayClass as given, or gone (undefined): how the cluster looks after a change to it. */
export function withGatewayClass(snapshot: ClusterSnapshot, name: string, gatewayClass: KubeObject | undefined): ClusterSnapshot {
  const overlay = Object.create(snapshot) as ClusterSnapshot;
  overlay.gatewayClass = (n: string) => (n === name ? gatewayClass : snapshot.gatewayClass(n));
  return overlay;
}
