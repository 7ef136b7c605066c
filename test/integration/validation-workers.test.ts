import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { WORKER_NICE } from '../../src/server/thread-priority.js';
import { validateBody } from '../../src/server/validation-worker.js';
import { testApp } from '../helpers/app.js';
import { threadNices } from '../helpers/threads.js';
import { namespace, pod, podReview, policy, review } from '../helpers/objects.js';

// Issue 7: /validate bodies over 64 KiB are parsed in worker threads (src/server/validation-pool.ts),
// so /mutate on the event loop never waits behind a large or hostile object, and a worker past its
// time or heap is ended and replaced, its request answered.
const json = { 'content-type': 'application/json' };
const authorizationPolicy = (spec: Record<string, unknown>, ns = 'shop') =>
  review({
    kind: { group: 'security.istio.io', version: 'v1', kind: 'AuthorizationPolicy' },
    namespace: ns,
    object: { apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: 'a', namespace: ns }, spec },
  });
const virtualService = (patterns: string[], ns = 'shop') =>
  review({
    kind: { group: 'networking.istio.io', version: 'v1', kind: 'VirtualService' },
    namespace: ns,
    object: {
      apiVersion: 'networking.istio.io/v1',
      kind: 'VirtualService',
      metadata: { name: 'v', namespace: ns },
      spec: { hosts: ['r'], http: patterns.map((regex) => ({ match: [{ uri: { regex } }], route: [{ destination: { host: 'r' } }] })) },
    },
  });
/** An AuthorizationPolicy of nearly 6 MiB (the body limit): 115,000 `when` conditions. */
const sixMiB = () =>
  JSON.stringify(authorizationPolicy({ rules: [{ to: [{ operation: { paths: ['/x'] } }], when: Array.from({ length: 115_000 }, (_, i) => ({ key: 'request.headers[x-a]', values: [`v${i}`] })) }] }));

/** A 200 KB review of a kind no rule checks: decided in a worker, which stays (under recycleBytes). */
const thing200KB = () =>
  JSON.stringify(review({ kind: { group: 'example.com', version: 'v1', kind: 'Thing' }, namespace: 'shop', object: { metadata: { name: 'x' }, data: 'x'.repeat(200_000) } }));

describe('validation workers', () => {
  it('answers a /mutate sent after a 6 MiB /validate before that /validate, which is still being parsed and checked', async () => {
    const { app } = testApp([namespace('shop', { 'istio.io/dataplane-mode': 'ambient' })]);
    const body = sixMiB();
    expect(body.length).toBeGreaterThan(5.5 * 1024 * 1024);
    // Started once, so what follows is the work, not the worker's start.
    await app.inject({ method: 'POST', url: '/validate', headers: json, payload: JSON.stringify(authorizationPolicy({})) });
    const answered: string[] = [];
    const validating = app.inject({ method: 'POST', url: '/validate', headers: json, payload: body }).then((res) => (answered.push('validate'), res));
    const mutating = app.inject({ method: 'POST', url: '/mutate', headers: json, payload: JSON.stringify(podReview('shop', pod())) }).then((res) => (answered.push('mutate'), res));
    const [v, m] = await Promise.all([validating, mutating]);
    await app.close();
    expect(answered).toEqual(['mutate', 'validate']);
    expect(m.json().response.allowed).toBe(true);
    expect(v.json().response).toMatchObject({ allowed: false, status: { message: expect.stringMatching(/^\[object-budget-exceeded\]/) } });
  });

  it('decides in the worker, with the namespace from the cache, what needs no cluster state: an object over the budget, a kind no rule checks', async () => {
    const { app, lines, store } = testApp([namespace('shop')]);
    const deny = await app.inject({ method: 'POST', url: '/validate', headers: json, payload: sixMiB() });
    expect(deny.json().response).toMatchObject({ allowed: false, status: { message: expect.stringMatching(/^\[object-budget-exceeded\] the object has more than 50000/) } });
    expect(lines.at(-1)).toMatchObject({ audit: true, webhook: 'validate', kind: 'AuthorizationPolicy', namespace: 'shop', result: 'denied', rules: ['object-budget-exceeded'] });
    // The namespace's enforcement as it is now, read from the main thread's cache.
    store.upsert(namespace('shop', { 'meshguard.io/enforcement': 'warn' }));
    const warn = await app.inject({ method: 'POST', url: '/validate', headers: json, payload: sixMiB() });
    expect(warn.json().response).toMatchObject({ allowed: true, warnings: [expect.stringMatching(/^\[object-budget-exceeded\]/)] });
    const unknownKind = review({ kind: { group: 'example.com', version: 'v1', kind: 'Thing' }, namespace: 'shop', object: { metadata: { name: 'x' }, data: 'x'.repeat(200_000) } });
    const allowed = await app.inject({ method: 'POST', url: '/validate', headers: json, payload: JSON.stringify(unknownKind) });
    await app.close();
    expect(allowed.json().response).toMatchObject({ uid: unknownKind.request.uid, allowed: true });
    expect(lines.at(-1)).toMatchObject({ webhook: 'validate', kind: 'Thing', result: 'allowed' });
  });

  it('decides a large VirtualService in the worker, with RE2 verdicts from the main thread\'s compiler and cache (its rules read only the namespace)', async () => {
    const { app, lines } = testApp([namespace('shop', { 'istio.io/dataplane-mode': 'ambient' })]);
    // Over 64 KiB (inlineBytes) but within the budget: 4,000 hosts and a regex RE2 refuses.
    const body = virtualService(['(?=x)']) as unknown as { request: { uid: string; object: { spec: { hosts: string[] } } } };
    body.request.object.spec.hosts = Array.from({ length: 4000 }, (_, i) => `reviews-${i}.shop.svc.cluster.local`);
    expect(JSON.stringify(body).length).toBeGreaterThan(64 * 1024);
    const res = await app.inject({ method: 'POST', url: '/validate', headers: json, payload: JSON.stringify(body) });
    await app.close();
    expect(res.json().response).toMatchObject({ uid: body.request.uid, allowed: false, status: { message: expect.stringMatching(/^\[regex-invalid\]/) } });
    expect(lines.at(-1)).toMatchObject({ webhook: 'validate', kind: 'VirtualService', result: 'denied', rules: ['regex-invalid'] });
  });

  it('decides a small VirtualService with more than 20 regexes in a worker too (inlineRegexes): planning them stays off the event loop', async () => {
    const threads = () => readdirSync('/proc/self/task').length;
    const { app, lines } = testApp([namespace('shop', { 'istio.io/dataplane-mode': 'ambient' })], undefined, true, { validation: { idleMs: 60_000 } });
    const send = async (patterns: string[]) => {
      const payload = JSON.stringify(virtualService(patterns));
      expect(payload.length).toBeLessThan(64 * 1024);
      return (await app.inject({ method: 'POST', url: '/validate', headers: json, payload })).json().response;
    };
    const routes = (n: number) => Array.from({ length: n }, (_, i) => `^/api/v${i}/[a-z]+$`);
    // 20 regexes, one of them refused by RE2: decided here (the regex compile worker starts for it).
    expect(await send([...routes(19), '(?=x)'])).toMatchObject({ allowed: false, status: { message: expect.stringMatching(/^\[regex-invalid\]/) } });
    const withCompiler = threads();
    // 21: the same verdict and audit line, from a validation worker started for it.
    expect(await send([...routes(20), '(?=x)'])).toMatchObject({ allowed: false, status: { message: expect.stringMatching(/^\[regex-invalid\]/) } });
    expect(lines.at(-1)).toMatchObject({ webhook: 'validate', kind: 'VirtualService', result: 'denied', rules: ['regex-invalid'] });
    const withWorker = threads();
    expect(await send(routes(3))).toMatchObject({ allowed: true });
    const afterSmall = threads();
    await app.close();
    expect(withWorker).toBe(withCompiler + 1);
    expect(afterSmall).toBe(withWorker);
  });

  it('hands a large object whose rules read the cluster back to the main thread, which decides it with the cluster', async () => {
    const { app, lines } = testApp([namespace('shop', { 'istio.io/dataplane-mode': 'ambient' })]);
    // Over 64 KiB, within the budget: an L7 policy bound by selector to ztunnel, which cannot enforce it.
    const paths = Array.from({ length: 4000 }, (_, i) => `/api/v1/items/${i}`);
    const body = authorizationPolicy({ selector: { matchLabels: { app: 'reviews' } }, action: 'DENY', rules: [{ to: [{ operation: { paths } }] }] });
    expect(JSON.stringify(body).length).toBeGreaterThan(64 * 1024);
    const res = await app.inject({ method: 'POST', url: '/validate', headers: json, payload: JSON.stringify(body) });
    await app.close();
    expect(res.json().response).toMatchObject({ allowed: false, status: { message: expect.stringMatching(/^\[authz-l7-/) } });
    expect(lines.at(-1)).toMatchObject({ webhook: 'validate', kind: 'AuthorizationPolicy', result: 'denied' });
  });

  it('asks the main thread only for what a worker-decided object needs: the namespace, then the regexes the plan compiles (validateBody)', async () => {
    const run = async (reviewBody: unknown) => {
      const said: Array<{ type: string }> = [];
      const asked: string[][] = [];
      await validateBody(Buffer.from(JSON.stringify(reviewBody)), {
        policy,
        namespace: () => Promise.resolve({ result: 'cached', namespace: namespace('shop') }),
        regexes: (patterns) => {
          asked.push(patterns);
          return Promise.resolve(new Map(patterns.map((p) => [p, p === '(?=x)' ? { kind: 'invalid' as const, reason: 'lookahead' } : undefined])));
        },
        say: (m) => said.push(m),
      });
      return Object.assign(said, { asked });
    };
    const vs = await run(virtualService(['^/a/[0-9]+$', '(?=x)', '^/a/[0-9]+$']));
    expect(vs.map((m) => m.type)).toEqual(['decided']);
    expect(vs.asked).toEqual([['^/a/[0-9]+$', '(?=x)']]);
    expect((vs[0] as unknown as { outcome: { allowed: boolean; findings: { rule: string }[] } }).outcome).toMatchObject({ allowed: false, findings: [{ rule: 'regex-invalid' }] });
    // Over the regex budget (512): denied without compiling anything.
    const over = await run(virtualService(Array.from({ length: 600 }, (_, i) => `^/p/${i}$`)));
    expect((over[0] as unknown as { outcome: { findings: { rule: string }[] } }).outcome.findings.map((f) => f.rule)).toEqual(['regex-budget-exceeded']);
    expect(over.asked).toEqual([]);
    expect((await run(authorizationPolicy({ action: 'DENY' }))).map((m) => m.type)).toEqual(['handback']);
  });

  it('refuses with a 413, not a 500, a body its worker could not parse within the deadline', async () => {
    const { app } = testApp([namespace('shop')], undefined, true, { validation: { deadlineMs: 1 } });
    const res = await app.inject({ method: 'POST', url: '/validate', headers: json, payload: sixMiB() });
    await app.close();
    expect(res.statusCode).toBe(413);
    expect(res.json().message).toBe('the AdmissionReview could not be checked: it took longer than 1 ms');
  });

  it("decides small bodies on the main thread with the store's later changes: upserts, removals and replaces", async () => {
    const { app, store } = testApp([namespace('shop')]);
    const bad = () => app.inject({ method: 'POST', url: '/validate', headers: json, payload: JSON.stringify(virtualService(['(?=x)'])) }).then((r) => r.json().response);
    expect(await bad()).toMatchObject({ allowed: false });
    store.upsert(namespace('shop', { 'meshguard.io/enforcement': 'off' }));
    expect(await bad()).toMatchObject({ allowed: true });
    store.remove('Namespace', undefined, 'shop');
    expect(await bad()).toMatchObject({ allowed: false });
    store.replace('Namespace', [namespace('shop', { 'meshguard.io/enforcement': 'warn' })]);
    expect((await bad()).warnings?.[0]).toMatch(/^\[regex-invalid\]/);
    await app.close();
  });

  it('answers a /validate in flight when the app closes, then ends its workers', async () => {
    const { app } = testApp([namespace('shop')]);
    const validating = app.inject({ method: 'POST', url: '/validate', headers: json, payload: sixMiB() });
    // Give the body time to reach the pool, then close while it is being checked.
    await new Promise((r) => setTimeout(r, 20));
    await app.close();
    const res = await validating;
    expect(res.statusCode).toBe(200);
    expect(res.json().response.status.message).toMatch(/^\[object-budget-exceeded\] the object has more than 50000/);
  });

  it('runs its validation workers and the regex compile worker at nice 10 while the main thread keeps its priority (thread-priority.ts)', async () => {
    const before = new Set(threadNices().map((t) => t.tid));
    const { app } = testApp([namespace('shop')]);
    // A body over 64 KiB starts one validation worker; a regex starts the compile worker.
    expect((await app.inject({ method: 'POST', url: '/validate', headers: json, payload: thing200KB() })).statusCode).toBe(200);
    const res = await app.inject({ method: 'POST', url: '/validate', headers: json, payload: JSON.stringify(virtualService(['^/a/[0-9]+$'])) });
    expect(res.json().response.allowed).toBe(true);
    const started = threadNices().filter((t) => !before.has(t.tid));
    const main = threadNices().find((t) => t.tid === process.pid);
    await app.close();
    // The validation worker and the regex compile worker (libuv's pool threads may come too, at 0).
    expect(started.filter((t) => t.nice === WORKER_NICE).length).toBe(2);
    expect(main?.nice).toBe(0);
  });


  it('ends a worker once it has answered a body over 1 MiB (recycleBytes), so the heap its parse grew goes back', async () => {
    const threads = () => readdirSync('/proc/self/task').length;
    const { app } = testApp([namespace('shop')], undefined, true, { validation: { idleMs: 60_000 } });
    const before = threads();
    expect((await app.inject({ method: 'POST', url: '/validate', headers: json, payload: thing200KB() })).statusCode).toBe(200);
    // A 200 KB body: the worker stays for the next.
    const kept = threads();
    expect((await app.inject({ method: 'POST', url: '/validate', headers: json, payload: sixMiB() })).statusCode).toBe(200);
    let after = threads();
    for (let i = 0; i < 50 && after >= kept; i++) after = await new Promise((r) => setTimeout(r, 20)).then(threads);
    await app.close();
    expect(kept).toBeGreaterThan(before);
    expect(after).toBeLessThan(kept);
  });

  it('starts a worker for the first large body only, and ends it once idle (its heap goes back)', async () => {
    const threads = () => readdirSync('/proc/self/task').length;
    const before = threads();
    const { app } = testApp([namespace('shop')], undefined, true, { validation: { idleMs: 300, recycleBytes: 64 * 1024 * 1024 } });
    const small = await app.inject({ method: 'POST', url: '/validate', headers: json, payload: JSON.stringify(authorizationPolicy({})) });
    expect(small.json().response.allowed).toBe(true);
    const withoutWorker = threads();
    const large = await app.inject({ method: 'POST', url: '/validate', headers: json, payload: sixMiB() });
    expect(large.json().response.status.message).toMatch(/^\[object-budget-exceeded\]/);
    const withWorker = threads();
    await new Promise((r) => setTimeout(r, 1000));
    const afterIdle = threads();
    const again = await app.inject({ method: 'POST', url: '/validate', headers: json, payload: sixMiB() });
    await app.close();
    expect(withoutWorker).toBe(before);
    expect(withWorker).toBeGreaterThan(withoutWorker);
    expect(afterIdle).toBeLessThan(withWorker);
    expect(again.json().response.status.message).toMatch(/^\[object-budget-exceeded\]/);
  });
});
