import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { Composer, isMap, isNode, isScalar, LineCounter, Parser, type Document } from 'yaml';
import type { KubeObject } from '../kube.js';
import { isRecord } from '../kube.js';
import { ClusterStore } from './snapshot.js';

/** One Kubernetes object read from a manifest, with where it came from. */
export interface ManifestDoc {
  file: string;
  /** Index of the YAML document in the file (0-based); items of a `List` share their document's index. */
  index: number;
  /** 1-based line of the document's start. */
  line: number;
  object: KubeObject;
  /** 1-based line of a field of the object (map keys and array indexes), if the field exists. */
  fieldLine?(path: ReadonlyArray<string | number>): number | undefined;
}

export class ManifestError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    message: string,
  ) {
    super(`${file}:${line}: ${message}`);
  }
}

const MANIFEST_EXTENSIONS = new Set(['.yaml', '.yml', '.json']);

/** Files under the given paths (directories read recursively, manifests only, sorted for stable output). */
export function manifestFiles(paths: string[]): string[] {
  const out: string[] = [];
  const walk = (path: string, explicit: boolean) => {
    let stat;
    try {
      stat = statSync(path);
    } catch (err) {
      throw new ManifestError(path, 0, `cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    if (stat.isDirectory()) {
      for (const entry of readdirSync(path).sort()) if (!entry.startsWith('.')) walk(join(path, entry), false);
    } else if (explicit || MANIFEST_EXTENSIONS.has(extname(path))) out.push(path);
  };
  for (const p of paths) walk(p, true);
  return out;
}

/**
 * The documents of a YAML or JSON text, composed one at a time (yaml's streaming Composer), so a
 * caller that keeps only the values never holds more than one document's syntax tree.
 */
function* documents(text: string, file: string) {
  const lines = new LineCounter();
  let index = 0;
  for (const doc of new Composer().compose(new Parser(lines.addNewLine).parse(text), true)) {
    // The first line of content, not of the comments before it.
    const line = lines.linePos(doc.contents?.range?.[0] ?? doc.range?.[0] ?? 0).line;
    const error = doc.errors[0];
    if (error) throw new ManifestError(file, lines.linePos(error.pos[0]).line, error.message.split('\n')[0]);
    const value: unknown = doc.toJS({ maxAliasCount: 100 });
    if (value === null || value === undefined) continue;
    if (!isRecord(value)) throw new ManifestError(file, line, 'a document must be a Kubernetes object (a mapping)');
    const list = typeof value.kind === 'string' && value.kind.endsWith('List') && Array.isArray(value.items);
    yield { doc, lines, index: index++, line, value, items: list ? (value.items as unknown[]) : [value], list };
  }
}

/** Parses multi-document YAML or JSON; `List` kinds are flattened. Throws ManifestError with file and line. */
export function parseManifests(text: string, file: string): ManifestDoc[] {
  const out: ManifestDoc[] = [];
  for (const { doc, lines, index, line, items, list } of documents(text, file)) {
    items.forEach((item, i) => {
      if (!isRecord(item)) return;
      const base = list ? ['items', i] : [];
      const fieldLine = (path: ReadonlyArray<string | number>) => {
        const offset = fieldOffset(doc, [...base, ...path]);
        return offset === undefined ? undefined : lines.linePos(offset).line;
      };
      out.push({ file, index, line, object: item, fieldLine });
    });
  }
  return out;
}

/** Where a field starts: its key in a mapping (so a nested block points at its key's line), or its item in a sequence. */
function fieldOffset(doc: Document, path: Array<string | number>): number | undefined {
  if (!path.length) return doc.contents?.range?.[0];
  const parent = doc.getIn(path.slice(0, -1), true);
  const last = path[path.length - 1];
  if (isMap(parent)) {
    const pair = parent.items.find((p) => isScalar(p.key) && p.key.value === last);
    return isNode(pair?.key) ? pair.key.range?.[0] : undefined;
  }
  const node = doc.getIn(path, true);
  return isNode(node) ? node.range?.[0] : undefined;
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new ManifestError(file, 0, `cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

export function readManifests(paths: string[]): ManifestDoc[] {
  return manifestFiles(paths).flatMap((file) => parseManifests(readText(file), file));
}

/** A snapshot of the Namespaces, Gateways, GatewayClasses, Services and ServiceEntries in manifests. */
export function storeFromManifests(docs: ManifestDoc[]): ClusterStore {
  return new ClusterStore(docs.map((d) => d.object));
}

/**
 * A snapshot read from a cluster-state directory (or several paths) one file at a time, so that only
 * one file's YAML syntax tree is alive at once (a dump of 50,000 Services stays within a small heap).
 */
export function storeFromDirectory(dir: string | string[]): ClusterStore {
  const store = new ClusterStore();
  for (const file of manifestFiles(typeof dir === 'string' ? [dir] : dir)) {
    for (const { items } of documents(readText(file), file)) for (const item of items) if (isRecord(item)) store.upsert(item);
  }
  return store;
}
