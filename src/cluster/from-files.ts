import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { isMap, isNode, isScalar, LineCounter, parseAllDocuments, type Document } from 'yaml';
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

/** Parses multi-document YAML or JSON; `List` kinds are flattened. Throws ManifestError with file and line. */
export function parseManifests(text: string, file: string): ManifestDoc[] {
  const lines = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter: lines, uniqueKeys: false });
  const out: ManifestDoc[] = [];
  let index = 0;
  for (const doc of Array.isArray(docs) ? docs : [docs]) {
    // The first line of content, not of the comments before it.
    const line = lines.linePos(doc.contents?.range?.[0] ?? doc.range?.[0] ?? 0).line;
    const error = doc.errors[0];
    if (error) throw new ManifestError(file, lines.linePos(error.pos[0]).line, error.message.split('\n')[0]);
    const value: unknown = doc.toJS({ maxAliasCount: 100 });
    if (value === null || value === undefined) continue;
    if (!isRecord(value)) throw new ManifestError(file, line, 'a document must be a Kubernetes object (a mapping)');
    const items = typeof value.kind === 'string' && value.kind.endsWith('List') && Array.isArray(value.items) ? value.items : [value];
    items.forEach((item, i) => {
      if (!isRecord(item)) return;
      const base = items === value.items ? ['items', i] : [];
      const fieldLine = (path: ReadonlyArray<string | number>) => {
        const offset = fieldOffset(doc, [...base, ...path]);
        return offset === undefined ? undefined : lines.linePos(offset).line;
      };
      out.push({ file, index, line, object: item as KubeObject, fieldLine });
    });
    index++;
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

export function readManifests(paths: string[]): ManifestDoc[] {
  return manifestFiles(paths).flatMap((file) => {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new ManifestError(file, 0, `cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    return parseManifests(text, file);
  });
}

/** A snapshot of the Namespaces, Gateways, GatewayClasses, Services and ServiceEntries in manifests. */
export function storeFromManifests(docs: ManifestDoc[]): ClusterStore {
  return new ClusterStore(docs.map((d) => d.object));
}
