import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs bench script, without type declarations
import { compareUnit, explain, loadExpectations } from '../../../bench/analyze/compare.mjs';

// The pairing and explaining of bench:analyze (bench/analyze/compare.mjs), which decide when the
// comparison with istioctl analyze fails.
interface F {
  object: string;
  id: string;
}
const equivalent = new Map([['IST0106', ['regex-invalid', 'regex-empty']]]);
const vs = 'VirtualService shop/reviews';

describe('compareUnit', () => {
  it.each<{ name: string; mine: F[]; theirs: F[]; agree: number; meshguardOnly: string[]; analyzeOnly: string[] }>([
    { name: 'equivalent on the same object: agree', mine: [{ object: vs, id: 'regex-invalid' }], theirs: [{ object: vs, id: 'IST0106' }], agree: 1, meshguardOnly: [], analyzeOnly: [] },
    {
      name: 'equivalent on another object: both differ',
      mine: [{ object: vs, id: 'regex-invalid' }],
      theirs: [{ object: 'VirtualService shop/ratings', id: 'IST0106' }],
      agree: 0,
      meshguardOnly: ['regex-invalid'],
      analyzeOnly: ['IST0106'],
    },
    { name: 'same object, codes not listed as equivalent: both differ', mine: [{ object: vs, id: 'deprecated-field' }], theirs: [{ object: vs, id: 'IST0106' }], agree: 0, meshguardOnly: ['deprecated-field'], analyzeOnly: ['IST0106'] },
    {
      name: 'one message pairs with one finding only',
      mine: [{ object: vs, id: 'regex-invalid' }, { object: vs, id: 'regex-empty' }],
      theirs: [{ object: vs, id: 'IST0106' }],
      agree: 1,
      meshguardOnly: ['regex-empty'],
      analyzeOnly: [],
    },
    { name: 'nothing on either side', mine: [], theirs: [], agree: 0, meshguardOnly: [], analyzeOnly: [] },
  ])('$name', ({ mine, theirs, agree, meshguardOnly, analyzeOnly }) => {
    const result = compareUnit(mine, theirs, equivalent);
    expect(result.agree).toHaveLength(agree);
    expect(result.meshguardOnly.map((f: F) => f.id)).toEqual(meshguardOnly);
    expect(result.analyzeOnly.map((f: F) => f.id)).toEqual(analyzeOnly);
  });
});

describe('explain', () => {
  const { differences } = loadExpectations(`
equivalent: []
differences:
  - tool: analyze
    code: IST0118
    files: samples/**
    why: analyze-only analyzer, port naming convention, which meshguard does not check
  - tool: meshguard
    rule: waypoint-missing
    files: [examples/bad/waypoints.yaml]
    object: Service shop/cart
    why: analyze skips Services offline, so it never sees the label
`);
  it.each<{ name: string; tool: string; unit: string; f: F; explained: boolean }>([
    { name: 'code and glob match', tool: 'analyze', unit: 'samples/bookinfo/platform/kube/bookinfo.yaml', f: { object: 'Service default/details', id: 'IST0118' }, explained: true },
    { name: 'glob does not match', tool: 'analyze', unit: 'examples/corpus/20-bookinfo.yaml', f: { object: 'Service default/details', id: 'IST0118' }, explained: false },
    { name: 'other tool', tool: 'meshguard', unit: 'samples/x.yaml', f: { object: 'Service default/details', id: 'IST0118' }, explained: false },
    { name: 'object named and matching', tool: 'meshguard', unit: 'examples/bad/waypoints.yaml', f: { object: 'Service shop/cart', id: 'waypoint-missing' }, explained: true },
    { name: 'object named and another object', tool: 'meshguard', unit: 'examples/bad/waypoints.yaml', f: { object: 'Service shop/catalog', id: 'waypoint-missing' }, explained: false },
  ])('$name', ({ tool, unit, f, explained }) => {
    expect(explain(differences, tool, unit, f) !== undefined).toBe(explained);
  });
});

describe('loadExpectations', () => {
  it('refuses an entry without a why', () => {
    expect(() => loadExpectations('equivalent: []\ndifferences:\n  - {tool: analyze, code: IST0118, files: "**"}\n')).toThrow(/without a why/);
  });
  it('loads the committed expectation file', () => {
    const { equivalent: eq, differences } = loadExpectations(readFileSync(new URL('../../../bench/analyze/expectations.yaml', import.meta.url), 'utf8'));
    expect(eq.size).toBeGreaterThan(0);
    for (const d of differences) expect(['analyze', 'meshguard']).toContain(d.tool);
  });
});
