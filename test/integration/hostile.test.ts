import { describe, expect, it } from 'vitest';
import { createRegexCompiler } from '../../src/server/regex-compiler.js';
import { testApp } from '../helpers/app.js';

// Issue 7: hostile objects must not stall other requests or run past their budget.
const review = (object: Record<string, unknown>, kind = 'VirtualService', group = 'networking.istio.io') => ({
  apiVersion: 'admission.k8s.io/v1',
  kind: 'AdmissionReview',
  request: { uid: 'u1', kind: { group, version: 'v1', kind }, namespace: 'shop', operation: 'CREATE', object },
});
const virtualService = (patterns: string[]) => ({
  apiVersion: 'networking.istio.io/v1',
  kind: 'VirtualService',
  metadata: { name: 'v', namespace: 'shop' },
  spec: { hosts: ['r'], http: patterns.map((regex) => ({ match: [{ uri: { regex } }], route: [{ destination: { host: 'r' } }] })) },
});
// Each within the per-pattern limit (about 30,000 instructions), new to the cache, about 10-30 ms to compile.
const costly = (n: number) => Array.from({ length: n }, () => `\\pL{20}${Math.random().toString(36).slice(2)}`);

describe('regexes compile off the event loop', () => {
  it('keeps the event loop turning while a costly VirtualService compiles', async () => {
    const { app } = testApp();
    // Warm up (app start, JIT, the worker) so the timed request is mostly compiling.
    await app.inject({ method: 'POST', url: '/validate', payload: review(virtualService(['^/warm$'])) });
    // A timer beats every millisecond; the longest gap between beats is the longest stall.
    const beats = [performance.now()];
    const timer = setInterval(() => beats.push(performance.now()), 1);
    const started = performance.now();
    const res = await app.inject({ method: 'POST', url: '/validate', payload: review(virtualService(costly(8))) });
    const took = performance.now() - started;
    beats.push(performance.now());
    clearInterval(timer);
    await app.close();
    const longest = Math.max(...beats.slice(1).map((t, i) => t - beats[i]));
    expect(res.json().response).toMatchObject({ allowed: true });
    // Compiled on the event loop, the longest stall would be the whole compile: most of the request.
    expect(longest).toBeLessThan(took / 2);
  });

  it.each([
    ['CPU time', 5, 60_000, 'compiling them took more than 5 ms of CPU'],
    ['wall time, waiting included', 60_000, 1, 'compiling them took longer than 1 ms, waiting included'],
  ])('stops a batch that runs over its %s, answers with regex-budget-exceeded, and compiles the next batch in a fresh worker', async (_what, cpuMs, wallMs, reason) => {
    const compiler = createRegexCompiler(cpuMs, wallMs);
    try {
      const patterns = costly(8);
      const verdicts = await compiler.verdicts(patterns);
      expect([...verdicts.values()]).toEqual(patterns.map(() => ({ kind: 'not-compiled', reason })));
    } finally {
      await compiler.close();
    }
    const fresh = createRegexCompiler(10_000);
    try {
      const verdicts = await fresh.verdicts(['^/ok$', '(?=x)']);
      expect(verdicts.get('^/ok$')).toBeUndefined();
      expect(verdicts.get('(?=x)')).toMatchObject({ kind: 'invalid' });
    } finally {
      await fresh.close();
    }
  });

  it('denies over the time budget through the webhook, saying what happened and how to fix it', async () => {
    const { app } = testApp(undefined, undefined, true, { regexTimeoutMs: 1 });
    const res = await app.inject({ method: 'POST', url: '/validate', payload: review(virtualService(costly(8))) });
    await app.close();
    const { response } = res.json();
    expect(response.allowed).toBe(false);
    expect(response.status.message).toMatch(/^\[regex-budget-exceeded\] spec\.http\[0\]\.match\[0\]\.uri\.regex ".*" could not be checked: compiling them took (more than 1 ms of CPU|longer than 3 ms, waiting included); use fewer or simpler regexes/);
  });
});
