// Reading the cluster: a paged LIST, then a WATCH from the list's resourceVersion, for any API resource.
//
//   listResource(kc, resource)               one paged LIST -> { items, resourceVersion }
//   watchResource(kc, resource, sink, log)   LIST then WATCH until stop(): sink.replace(items) after every
//                                            complete LIST, sink.upsert/remove per change, sink.state on change
//
// A WatchedResource is a Resource (./resources.ts: group, version, plural, kind), whether metadata is all it needs
// (metadataOnly: the API server sends PartialObjectMetadata, no spec or status), and trim: what to
// keep of each object. trim runs on each item as its page or event arrives, so full objects never
// pile up, and the only copy kept is the one the sink keeps. To read another kind (Pods,
// AuthorizationPolicies, ...), give its Resource a trim of its own.
//
// Behaviour (as client-go's reflector): pages of PAGE_SIZE with `continue`; watch with bookmarks and
// a server-side timeout; an expired resourceVersion (410 Gone) relists at once; any other failure
// keeps the sink's last good state and retries with exponential backoff (1 s to 30 s), re-watching
// from the last resourceVersion when there is one; an API that is not served (404: CRD not
// installed) puts the resource in state `absent` and is looked for again every minute.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { isRecord, type KubeObject } from '../kube.js';
import { apiGet, failureOf, ListError, listPages, type ApiCredentials } from './list-pages.js';
import { apiVersionOf, collectionPath, type Resource } from './resources.js';

export interface WatchedResource extends Resource {
  /** Labels, annotations and the rest of metadata are all that is read: ask for PartialObjectMetadata. */
  metadataOnly?: boolean;
  /** What to keep of one object (it arrives with apiVersion and kind set); undefined drops it. */
  trim(obj: KubeObject): KubeObject | undefined;
}

export type ResourceState = 'pending' | 'synced' | 'absent';

export interface ResourceSink {
  /** A complete, consistent LIST: these are all the objects now (objects not in it are gone). */
  replace(items: KubeObject[]): void;
  upsert(obj: KubeObject): void;
  remove(obj: KubeObject): void;
  /** pending until the first complete LIST; absent while the API is not served. */
  state(state: ResourceState): void;
}

export interface ReaderTiming {
  pageSize?: number;
  /** How long to wait before looking again for an API that was not served. */
  rediscoverMs?: number;
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** Server-side watch timeout; the watch is then resumed from its last resourceVersion. */
  watchSeconds?: number;
}

const DEFAULTS: Required<ReaderTiming> = { pageSize: 500, rediscoverMs: 60_000, minBackoffMs: 1000, maxBackoffMs: 30_000, watchSeconds: 300 };
/** Time without a byte from the API server before a request is given up (a watch gets its timeout on top). */
const IDLE_MS = 60_000;
const JSON_TYPE = 'application/json';
const metadataAccept = (as: string) => `${JSON_TYPE};as=${as};g=meta.k8s.io;v=v1, ${JSON_TYPE}`;

/** Every object of a resource, in pages (./list-pages.ts); trimmed as each page arrives. Throws ListError. */
export async function listResource(
  kc: ApiCredentials,
  resource: WatchedResource,
  options: { pageSize?: number; signal?: AbortSignal } = {},
): Promise<{ items: KubeObject[]; resourceVersion: string }> {
  const items: KubeObject[] = [];
  const accept = resource.metadataOnly ? metadataAccept('PartialObjectMetadataList') : JSON_TYPE;
  const pages = listPages(kc, collectionPath(resource), { pageSize: options.pageSize ?? DEFAULTS.pageSize, timeoutMs: IDLE_MS, accept, signal: options.signal });
  for (;;) {
    const page = await pages.next();
    if (page.done) return { items, resourceVersion: page.value };
    for (const item of page.value) {
      const kept = own(resource, item);
      if (kept) items.push(kept);
    }
  }
}

/** Keeps a resource's sink in step with the cluster until stop() (see the top of this file). */
export function watchResource(kc: ApiCredentials, resource: WatchedResource, sink: ResourceSink, log: Logger, timing: ReaderTiming = {}): { stop: () => void } {
  const t = { ...DEFAULTS, ...timing };
  const abort = new AbortController();
  const { signal } = abort;
  const what = { kind: resource.kind, apiVersion: apiVersionOf(resource) };
  let state: ResourceState = 'pending';
  const setState = (next: ResourceState) => {
    if (next === state) return;
    state = next;
    sink.state(next);
  };

  const run = async () => {
    let resourceVersion: string | undefined;
    let backoff = t.minBackoffMs;
    while (!signal.aborted) {
      try {
        if (resourceVersion === undefined) {
          const list = await listResource(kc, resource, { pageSize: t.pageSize, signal });
          sink.replace(list.items);
          resourceVersion = list.resourceVersion;
          if (state !== 'synced') log.info({ ...what, objects: list.items.length }, 'cluster cache synced');
          setState('synced');
        }
        const started = Date.now();
        resourceVersion = await watchOnce(kc, resource, resourceVersion, sink, t.watchSeconds, signal);
        // A watch the server ended normally resumes at once, unless it ends as soon as it starts.
        if (Date.now() - started > t.minBackoffMs) backoff = t.minBackoffMs;
        else await pause();
      } catch (err) {
        if (signal.aborted) return;
        const status = err instanceof ListError ? err.status : 0;
        if (status === 410) {
          // The resourceVersion is too old to resume from (compacted): relist.
          log.info({ ...what }, 'watch expired (410 Gone); relisting');
          resourceVersion = undefined;
          continue;
        }
        if (status === 404) {
          setState('absent');
          log.warn(what, `API ${what.apiVersion} ${resource.plural} is not served (CRD not installed?): rules that need ${resource.kind} are disabled until it appears`);
          resourceVersion = undefined;
          await sleep(t.rediscoverMs, undefined, { signal, ref: false }).catch(() => {});
          continue;
        }
        log.warn({ ...what, err: (err as Error).message, retryInMs: backoff }, 'cluster list/watch failed; answering from the last good cache');
        await pause();
      }
    }
    async function pause() {
      await sleep(backoff, undefined, { signal, ref: false }).catch(() => {});
      backoff = Math.min(backoff * 2, t.maxBackoffMs);
    }
  };
  void run();
  return { stop: () => abort.abort() };
}

/** One WATCH from `resourceVersion`; resolves with the last resourceVersion seen when the server ends it. */
async function watchOnce(
  kc: ApiCredentials,
  resource: WatchedResource,
  resourceVersion: string,
  sink: ResourceSink,
  timeoutSeconds: number,
  signal: AbortSignal,
): Promise<string> {
  const query = new URLSearchParams({ watch: 'true', allowWatchBookmarks: 'true', resourceVersion, timeoutSeconds: String(timeoutSeconds) });
  const accept = resource.metadataOnly ? metadataAccept('PartialObjectMetadata') : JSON_TYPE;
  const res = await apiGet(kc, `${collectionPath(resource)}?${query}`, { accept, timeoutMs: IDLE_MS + timeoutSeconds * 1000, signal });
  let last = resourceVersion;
  let buffered = '';
  const onLine = (line: string) => {
    if (!line.trim()) return;
    const event = JSON.parse(line) as { type?: unknown; object?: unknown };
    const object = isRecord(event.object) ? event.object : {};
    if (event.type === 'ERROR') {
      const code = typeof object.code === 'number' ? object.code : 0;
      throw new ListError(failureOf(code), `WATCH ${resource.plural}: ${typeof object.message === 'string' ? object.message : 'error event'}`, code);
    }
    const rv = isRecord(object.metadata) ? object.metadata.resourceVersion : undefined;
    if (typeof rv === 'string' && rv) last = rv;
    if (event.type === 'BOOKMARK') return;
    const kept = own(resource, object);
    if (!kept) return;
    if (event.type === 'DELETED') sink.remove(kept);
    else if (event.type === 'ADDED' || event.type === 'MODIFIED') sink.upsert(kept);
  };
  res.setEncoding('utf8');
  return new Promise<string>((resolve, reject) => {
    res.on('data', (chunk: string) => {
      buffered += chunk;
      let nl: number;
      try {
        while ((nl = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          onLine(line);
        }
      } catch (err) {
        res.destroy();
        reject(err instanceof ListError ? err : new ListError('failed', `WATCH ${resource.plural}: ${(err as Error).message}`));
      }
    });
    res.on('end', () => resolve(last));
    res.on('error', reject);
    res.on('close', () => (signal.aborted ? reject(new Error('stopped')) : resolve(last)));
  });
}

/** Sets the resource's apiVersion and kind (list items and PartialObjectMetadata carry other ones), then trims. */
function own(resource: WatchedResource, item: unknown): KubeObject | undefined {
  if (!isRecord(item)) return undefined;
  return resource.trim({ ...(item as KubeObject), apiVersion: apiVersionOf(resource), kind: resource.kind });
}
