import type { ManifestDoc } from '../cluster/from-files.js';

/**
 * Splits a finding path such as `spec.listeners[0].port` or `metadata.labels["istio.io/use-waypoint"]`
 * into map keys and array indexes. Parsing stops at anything else (e.g. a catalog's `[]`), so the
 * result is always a usable prefix.
 */
export function pathSegments(path: string): Array<string | number> {
  const segments: Array<string | number> = [];
  const token = /\.?([^.[\]"]+)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]/y;
  for (let m = token.exec(path); m; m = token.exec(path)) {
    if (m[1] !== undefined) segments.push(m[1]);
    else if (m[2] !== undefined) segments.push(Number(m[2]));
    else {
      const key = parseQuoted(m[3]);
      if (key === undefined) break;
      segments.push(key);
    }
  }
  return segments;
}

function parseQuoted(quoted: string): string | undefined {
  try {
    return JSON.parse(quoted) as string;
  } catch {
    return undefined;
  }
}

/** The line of the deepest part of the path that exists in the file, else the document's. */
export function lineOf(doc: Pick<ManifestDoc, 'line' | 'fieldLine'>, path: string): number {
  const segments = pathSegments(path);
  for (let n = segments.length; n > 0 && doc.fieldLine; n--) {
    const line = doc.fieldLine(segments.slice(0, n));
    if (line !== undefined) return line;
  }
  return doc.line;
}
