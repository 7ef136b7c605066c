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
