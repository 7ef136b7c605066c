import { describe, expect, it } from 'vitest';
import { pathSegments } from '../../../src/check/field-path.js';

describe('pathSegments', () => {
  it.each([
    ['', []],
    ['metadata.name', ['metadata', 'name']],
    ['spec.listeners[0].port', ['spec', 'listeners', 0, 'port']],
    ['metadata.labels["istio.io/use-waypoint"]', ['metadata', 'labels', 'istio.io/use-waypoint']],
    ['spec.http[1].match[0].headers["x-tenant"].regex', ['spec', 'http', 1, 'match', 0, 'headers', 'x-tenant', 'regex']],
    ['spec.template.metadata.annotations["a\\"b"]', ['spec', 'template', 'metadata', 'annotations', 'a"b']],
    // Stops at what it cannot read, keeping the prefix.
    ['spec.http[].mirrorPercent', ['spec', 'http']],
    ['spec.x["unterminated', ['spec', 'x']],
    ['spec.x["bad \\q escape"].y', ['spec', 'x']],
  ])('%s', (path, segments) => {
    expect(pathSegments(path)).toEqual(segments);
  });
});
