import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { nameOf, type KubeObject } from '../kube.js';
import { watchResource, type ResourceState, type WatchedResource } from './reader.js';
import { snapshotResource } from './resources.js';
import { ClusterStore, SNAPSHOT_KINDS, trimForSnapshot, type SnapshotKind } from './snapshot.js';

/**
 * The snapshot kinds as the reader watches them (./resources.ts names their APIs), each trimmed to
 * what the snapshot keeps. Namespaces are read for their metadata only, so they are watched as
 * PartialObjectMetadata; Services are read in full for spec.selector, which the trim keeps.
 */
export const SNAPSHOT_RESOURCES = Object.fromEntries(
  SNAPSHOT_KINDS.map((kind) => [
    kind,
    { ...snapshotResource(kind), metadataOnly: kind === 'Namespace', trim: (obj: KubeObject) => trimForSnapshot(kind, obj) } satisfies WatchedResource,
  ]),
) as Record<SnapshotKind, WatchedResource>;

export type KindState = ResourceState;

/**
 * Live cluster view: one list/watch loop per kind (./reader.ts), writing the shared store. A loop
 * that fails keeps the store as it was (the webhook answers from the last good cache) and retries
 * with backoff. A kind whose API is not served (CRD not installed) is marked absent, which disables
 * only the rules that need it, and is looked for again every minute.
 */
export class ClusterInformers {
  readonly store = new ClusterStore();
  readonly state = new Map<SnapshotKind, KindState>(SNAPSHOT_KINDS.map((k) => [k, 'pending']));
  private readonly stops: Array<() => void> = [];

  constructor(
    private readonly kc: KubeConfig,
    private readonly log: Logger,
    private readonly onState: (kind: SnapshotKind, state: KindState, objects: number) => void = () => {},
  ) {}

  synced(): boolean {
    return [...this.state.values()].every((s) => s !== 'pending');
  }

  pending(): string[] {
    return [...this.state].filter(([, s]) => s === 'pending').map(([k]) => `cache ${k} not synced`);
  }

  start(): void {
    for (const kind of SNAPSHOT_KINDS) {
      const { stop } = watchResource(this.kc, SNAPSHOT_RESOURCES[kind], {
        replace: (items) => {
          this.store.replace(kind, items);
          this.onState(kind, this.state.get(kind)!, this.store.size(kind));
        },
        upsert: (obj) => this.store.upsert(obj),
        remove: (obj) => this.store.remove(kind, obj.metadata?.namespace, nameOf(obj) ?? ''),
        state: (state) => {
          this.store.setServed(kind, state !== 'absent');
          this.state.set(kind, state);
          this.onState(kind, state, this.store.size(kind));
        },
      }, this.log);
      this.stops.push(stop);
    }
  }

  stop(): void {
    for (const stop of this.stops) stop();
  }
}
