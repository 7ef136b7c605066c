// The cluster reader for one-shot front doors (`meshguard audit`, the migration plan): reads a live
// cluster or a directory of manifests into the same ClusterStore the webhook's informers fill, then
// hands over the objects to evaluate a page at a time. A kind that cannot be read is reported by
// kind and the rest is read on.
import type { KubeConfig } from '@kubernetes/client-node';
import type { KubeObject } from '../kube.js';
import { namespaceOf, parseApiVersion } from '../kube.js';
import { readFile } from 'node:fs/promises';
import { ManifestError, manifestFiles, parseManifests, storeFromDirectory, type ManifestDoc } from './from-files.js';
import { ListError, listPages, type ListOptions, type ReadFailure } from './list-pages.js';
import { apiVersionOf, collectionPath, RESOURCES, resourceName, snapshotKindOfResource, type Resource } from './resources.js';
import { ClusterStore, SNAPSHOT_KINDS } from './snapshot.js';

/** A kind that could not be read, and why. */
export interface ReadError {
  /** `Pod`, `Gateway.networking.istio.io`: the kind as kubectl names it. */
  resource: string;
  kind: string;
  group: string;
  reason: ReadFailure;
  message: string;
}

/** One object to evaluate. */
export interface ReadObject {
  /** With apiVersion and kind set. */
  object: KubeObject;
  resource: Resource;
  /** Where a manifest came from (file mode only): file, document line, and the line of a field. */
  origin?: Pick<ManifestDoc, 'file' | 'line' | 'fieldLine'>;
}

export interface ClusterRead {
  /** Where the objects come from, for reports: `live (https://...)` or `files (DIR)`. */
  description: string;
  /**
   * Complete before objects() yields its first page. A snapshot kind that could not be read is
   * marked not served, which silences only the rules that look it up.
   */
  snapshot: ClusterStore;
  /** Kinds that could not be read. Grows while objects() runs; complete once it is drained. */
  errors: ReadError[];
  /** The objects of the kinds in RESOURCES, a page at a time (live: in RESOURCES order; files: file by file). */
  objects(): AsyncGenerator<ReadObject[]>;
}

export interface ReadOptions extends ListOptions {
  /** Only these namespaces (their namespaced objects and their Namespace objects); empty: all. */
  namespaces?: string[];
  /** The kinds objects() hands over (default RESOURCES, the judged kinds; the plan reads more). */
  resources?: readonly Resource[];
}

/**
 * Reads a live cluster with paged LISTs. With `namespaces`, namespaced kinds are listed per
 * namespace, except waypoint Gateways (Gateway API), which a namespace may use from another one.
 */
export async function readLiveCluster(kc: KubeConfig, o: ReadOptions = {}): Promise<ClusterRead> {
  const namespaces = o.namespaces ?? [];
  const errors: ReadError[] = [];
  const failed = new Set<Resource>();
  const pathsOf = (r: Resource, forSnapshot: boolean): string[] => {
    const everywhere = !r.namespaced || !namespaces.length || (forSnapshot && r.kind === 'Gateway' && r.group !== 'networking.istio.io');
    return everywhere ? [collectionPath(r)] : namespaces.map((ns) => collectionPath(r, ns));
  };
  async function* pages(r: Resource, forSnapshot: boolean): AsyncGenerator<KubeObject[]> {
    try {
      for (const path of pathsOf(r, forSnapshot)) yield* listPages(kc, path, o);
    } catch (err) {
      if (!(err instanceof ListError)) throw err;
      failed.add(r);
      errors.push({ resource: resourceName(r), kind: r.kind, group: r.group, reason: err.reason, message: err.message });
    }
  }

  const snapshot = new ClusterStore();
  for (const r of RESOURCES) {
    const kind = snapshotKindOfResource(r);
    if (!kind) continue;
    for await (const page of pages(r, true)) for (const object of page) snapshot.upsert(withKind(object, r));
    snapshot.setServed(kind, !failed.has(r));
  }

  return {
    description: `live (${kc.getCurrentCluster()?.server})`,
    snapshot,
    errors,
    async *objects() {
      for (const r of o.resources ?? RESOURCES) {
        if (failed.has(r) || (!r.namespaced && namespaces.length && r.kind !== 'Namespace')) continue;
        for await (const page of pages(r, false)) {
          const objects = page.map((object) => ({ object: withKind(object, r), resource: r }));
          yield r.kind === 'Namespace' && namespaces.length ? objects.filter((o) => namespaces.includes(o.object.metadata?.name ?? '')) : objects;
        }
      }
    },
  };
}

/**
 * Reads a cluster from manifests (a `kubectl get -o yaml` dump, or files as `check` reads them):
 * the snapshot one file at a time, then the objects one file per page. A directory of manifests
 * stands for the whole cluster, so every kind counts as served. Throws ManifestError.
 */
export function readClusterFiles(paths: string[], o: Pick<ReadOptions, 'namespaces' | 'resources'> = {}): ClusterRead {
  const namespaces = o.namespaces ?? [];
  const files = manifestFiles(paths);
  const snapshot = storeFromDirectory(files);
  for (const kind of SNAPSHOT_KINDS) snapshot.setServed(kind, true);
  const selected = (object: KubeObject, r: Resource) => {
    if (!namespaces.length) return true;
    if (r.kind === 'Namespace') return namespaces.includes(object.metadata?.name ?? '');
    return r.namespaced && namespaces.includes(namespaceOf(object) ?? 'default');
  };
  return {
    description: `files (${paths.join(', ')})`,
    snapshot,
    errors: [],
    async *objects() {
      for (const file of files) {
        const page: ReadObject[] = [];
        for (const doc of parseManifests(await readManifestText(file), file)) {
          const resource = resourceOf(doc.object, o.resources ?? RESOURCES);
          if (resource && selected(doc.object, resource)) page.push({ object: doc.object, resource, origin: doc });
        }
        if (page.length) yield page;
      }
    },
  };
}

async function readManifestText(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new ManifestError(file, 0, `cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

function resourceOf(object: KubeObject, resources: readonly Resource[]): Resource | undefined {
  const { group } = parseApiVersion(object.apiVersion);
  return resources.find((r) => r.kind === object.kind && r.group === group);
}

/** List items come without apiVersion and kind (core kinds); the rules need both. */
function withKind(object: KubeObject, r: Resource): KubeObject {
  object.apiVersion ??= apiVersionOf(r);
  object.kind ??= r.kind;
  return object;
}
