import { describe, expect, it } from 'vitest';
import { FUZZ_NAMESPACES, runFuzz } from '../../../bench/fuzz-reviews.js';
import { MODE_LABELS } from '../../../src/mutate/patch.js';
import { testApp } from '../../helpers/app.js';
import { namespace } from '../../helpers/objects.js';

// The short seeded run of issue 7's fuzz (npm run fuzz runs 100,000 and records the result in bench/results/).
describe('seeded fuzz of /mutate and /validate', () => {
  it('3,000 reviews: no 5xx, no malformed answer, every patch applies and gives the decided mode', async () => {
    const { app, lines } = testApp(Object.entries(FUZZ_NAMESPACES).map(([name, labels]) => namespace(name, labels)));
    const post = async (url: string, payload: string) => {
      const res = await app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json' }, payload });
      return { status: res.statusCode, body: res.body };
    };
    const result = await runFuzz(post, { seed: 20261125, count: 3_000, modeLabels: MODE_LABELS, auditNamespaces: ['audited'] });
    expect(result.failures).toEqual([]);
    expect(result).toMatchObject({ reviews: 3_000, serverErrors: 0, malformed: 0, patchFailures: 0, modeMismatches: 0 });
    // The run reaches the decisions, not only the envelope checks.
    expect(result.byStatus[200]).toBeGreaterThan(1_000);
    expect(result.patches).toBeGreaterThan(300);
    expect(lines.length).toBeGreaterThan(1_000);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  }, 180_000);
});
