import { CoreV1Api, CustomObjectsApi, KubeConfig, makeInformer, type KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { KubeObject } from '../kube.js';
import { ClusterStore, SNAPSHOT_GROUPS, SNAPSHOT_KINDS, type SnapshotKind } from './snapshot.js';

interface Resource {
  version: string;
  plural: string;
}

// The served versions meshguard watches: Gateway API v1, Istio networking v1 (Istio 1.22+).
const RESOURCES: Record<SnapshotKind, Resource> = {
  Namespace: { version: 'v1', plural: 'namespaces' },
  Service: { version: 'v1', plural: 'services' },
  Gateway: { version: 'v1', plural: 'gateways' },
  GatewayClass: { version: 'v1', plural: 'gatewayclasses' },
  ServiceEntry: { version: 'v1', plural: 'serviceentries' },
};

const MAX_BACKOFF_MS = 30_000;
/** How often to look again for an API (CRD) that was not installed. */
const REDISCOVER_MS = 60_000;

export type KindState = 'pending' | 'synced' | 'absent';

/**
 * Live cluster view: one informer per kind, writing the shared store. An informer that errors is
 * restarted with exponential backoff while the webhook keeps answering from the last good cache.
 * A kind whose API is not served (CRD not installed) is marked absent, which disables only the rules
 * that need it, and is looked for again every minute.
 */
export class ClusterInformers {
  readonly store = new ClusterStore();
  readonly state = new Map<SnapshotKind, KindState>(SNAPSHOT_KINDS.map((k) => [k, 'pending']));
  private readonly stops: Array<() => void> = [];
  private stopped = false;

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
    for (const kind of SNAPSHOT_KINDS) this.watch(kind);
  }

  stop(): void {
    this.stopped = true;
    for (const stop of this.stops) stop();
  }

  private watch(kind: SnapshotKind): void {
    const group = SNAPSHOT_GROUPS[kind];
    const { version, plural } = RESOURCES[kind];
    const apiVersion = group ? `${group}/${version}` : version;
    const path = group ? `/apis/${group}/${version}/${plural}` : `/api/v1/${plural}`;
    const list = this.lister(kind, group, version, plural);
    // The informer reports list failures through its error event and still resolves start(), so
    // "synced" is only claimed after a list that actually succeeded.
    let listed = false;
    const informer = makeInformer<KubernetesObject>(this.kc, path, async () => {
      const result = await list();
      listed = true;
      return result;
    });
    // List items come without apiVersion and kind; the store needs them to tell Gateway API from Istio.
    const upsert = (obj: KubernetesObject) => this.store.upsert({ ...(obj as KubeObject), apiVersion, kind });
    informer.on('add', upsert);
    informer.on('update', upsert);
    informer.on('delete', (obj) => this.store.remove(kind, obj.metadata?.namespace, obj.metadata?.name ?? ''));

    let backoff = 1000;
    let timer: NodeJS.Timeout | undefined;
    const setState = (state: KindState) => {
      this.state.set(kind, state);
      this.onState(kind, state, this.store.size(kind));
    };
    const restart = (delay: number) => {
      if (this.stopped) return;
      clearTimeout(timer);
      timer = setTimeout(run, delay);
      timer.unref();
    };
    const failed = (err: unknown) => {
      if (this.stopped) return;
      if (statusOf(err) === 404) {
        this.store.setServed(kind, false);
        setState('absent');
        this.log.warn({ kind, apiVersion }, `API ${apiVersion} ${plural} is not served (CRD not installed?): rules that need ${kind} are disabled until it appears`);
        restart(REDISCOVER_MS);
        return;
      }
      // Keep the cache and keep answering from it; restart (which re-lists) with backoff.
      this.log.warn({ kind, err: messageOf(err), retryInMs: backoff }, 'cluster list/watch failed; answering from the last good cache');
      restart(backoff);
      backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
    };
    const run = () => {
      listed = false;
      informer.start().then(() => {
        if (!listed) return;
        backoff = 1000;
        this.store.setServed(kind, true);
        if (this.state.get(kind) !== 'synced') this.log.info({ kind, objects: this.store.size(kind) }, 'cluster cache synced');
        setState('synced');
      }, failed);
    };
    informer.on('error', failed);
    this.stops.push(() => {
      clearTimeout(timer);
      void informer.stop();
    });
    run();
  }

  private lister(kind: SnapshotKind, group: string, version: string, plural: string) {
    if (kind === 'Namespace') {
      const core = this.kc.makeApiClient(CoreV1Api);
      return () => core.listNamespace() as Promise<{ items: KubernetesObject[] }>;
    }
    if (kind === 'Service') {
      const core = this.kc.makeApiClient(CoreV1Api);
      return () => core.listServiceForAllNamespaces() as Promise<{ items: KubernetesObject[] }>;
    }
    const custom = this.kc.makeApiClient(CustomObjectsApi);
    return () => custom.listClusterCustomObject({ group, version, plural }) as Promise<{ items: KubernetesObject[] }>;
  }
}

function statusOf(err: unknown): number | undefined {
  const e = err as { code?: unknown; statusCode?: unknown; body?: { code?: unknown } };
  const code = e?.code ?? e?.statusCode ?? e?.body?.code;
  return typeof code === 'number' ? code : undefined;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
