// The watched caches of `meshguard serve`'s background audit, and a ClusterRead over them, so the
// audit runs the same auditCluster as `meshguard audit`. Each kind the audit judges (RESOURCES) is
// read from the webhook's snapshot store when that already holds what the rules read (trim.ts
// auditReadsSnapshot), else watched here with its own trim (cluster/reader.ts watchResource).
import type { Logger } from 'pino';
import type { ApiCredentials } from '../cluster/list-pages.js';
import type { ClusterRead, ReadError, ReadObject } from '../cluster/read.js';
import { watchResource, type ResourceState, type WatchedResource } from '../cluster/reader.js';
import { RESOURCES, resourceName, snapshotKindOfResource, type Resource } from '../cluster/resources.js';
import type { ClusterStore, SnapshotKind } from '../cluster/snapshot.js';
import { nameOf, namespaceOf, type KubeObject } from '../kube.js';
import type { Policy } from '../policy/types.js';
import { auditReadsSnapshot, auditTrim } from './trim.js';

/** Objects handed to the audit per page. */
const PAGE = 500;

const keyOf = (obj: KubeObject) => `${namespaceOf(obj) ?? ''}/${nameOf(obj) ?? ''}`;

export interface AuditCacheOptions {
  kc: ApiCredentials;
  log: Logger;
  policy: Policy;
  /** The webhook's snapshot store, and the state of each of its kinds (informers.ts). */
  store: ClusterStore;
  snapshotState: (kind: SnapshotKind) => ResourceState;
  /** Called when a watched kind's object count or state changes (for the cache gauges). */
  onState?: (resource: Resource, state: ResourceState, objects: number) => void;
}

/** The kinds the audit watches itself: those the snapshot store cannot stand in for under this policy. */
export function watchedResources(policy: Policy): Resource[] {
  return RESOURCES.filter((r) => !auditReadsSnapshot(r, policy));
}

export class AuditCaches {
  private readonly tables = new Map<Resource, Map<string, KubeObject>>();
  private readonly states = new Map<Resource, ResourceState>();
  private readonly stops: Array<() => void> = [];

  // A field, not a parameter property: the audit worker runs src/ with type stripping under vitest.
  private readonly o: AuditCacheOptions;

  constructor(o: AuditCacheOptions) {
    this.o = o;
    for (const r of watchedResources(o.policy)) {
      this.tables.set(r, new Map());
      this.states.set(r, 'pending');
    }
  }

  /** The kinds watched here (the others come from the snapshot store). */
  watched(): Resource[] {
    return [...this.tables.keys()];
  }

  start(): void {
    for (const [r, table] of this.tables) {
      const trim = auditTrim(r, this.o.policy);
      const resource: WatchedResource = { ...r, trim };
      const report = () => this.o.onState?.(r, this.states.get(r)!, table.size);
      const { stop } = watchResource(this.o.kc, resource, {
        replace: (items) => {
          table.clear();
          for (const obj of items) table.set(keyOf(obj), obj);
          report();
        },
        upsert: (obj) => void table.set(keyOf(obj), obj),
        remove: (obj) => void table.delete(keyOf(obj)),
        state: (state) => {
          this.states.set(r, state);
          if (state === 'absent') table.clear();
          report();
        },
      }, this.o.log);
      this.stops.push(stop);
    }
  }

  stop(): void {
    for (const stop of this.stops) stop();
  }

  private state(r: Resource): ResourceState {
    const kind = snapshotKindOfResource(r);
    return this.states.get(r) ?? (kind ? this.o.snapshotState(kind) : 'pending');
  }

  /** Every kind has listed once (or is known to be absent). */
  synced(): boolean {
    return RESOURCES.every((r) => this.state(r) !== 'pending');
  }

  /**
   * The caches as a ClusterRead. Objects are handed over as they are when each page is taken: an
   * event between two pages is seen or not, as with any paged LIST. A kind whose API is not served,
   * or that has not listed yet (forbidden, failing), is reported as a read error, and the rest is
   * audited.
   */
  read(): ClusterRead {
    const { store } = this.o;
    const unread = RESOURCES.filter((r) => this.state(r) !== 'synced');
    const errors: ReadError[] = unread.map((r) =>
      this.state(r) === 'absent'
        ? { resource: resourceName(r), kind: r.kind, group: r.group, reason: 'not-served', message: `${resourceName(r)} is not served by the API server (CRD not installed?)` }
        : { resource: resourceName(r), kind: r.kind, group: r.group, reason: 'failed', message: `${resourceName(r)} has not been listed yet (the log says why: RBAC, an unreachable API server)` },
    );
    const source = (r: Resource): Iterable<KubeObject> => {
      const table = this.tables.get(r);
      if (table) return table.values();
      return store.values(snapshotKindOfResource(r)!);
    };
    return {
      description: 'background (watched caches)',
      snapshot: store,
      errors,
      // Async only because ClusterRead's live reader is: these pages are in memory.
      // eslint-disable-next-line @typescript-eslint/require-await
      async *objects() {
        for (const r of RESOURCES) {
          if (unread.includes(r)) continue;
          let page: ReadObject[] = [];
          for (const object of source(r)) {
            page.push({ object, resource: r });
            if (page.length === PAGE) {
              yield page;
              page = [];
            }
          }
          if (page.length) yield page;
        }
      },
    };
  }
}
