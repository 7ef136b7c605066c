import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { WORKER_NICE } from '../../src/server/thread-priority.js';
import { testApp } from '../helpers/app.js';
import { namespace, pod, podReview, review } from '../helpers/objects.js';

// Issue 7: /validate runs in worker threads (src/server/validation-pool.ts), so /mutate on the
// event loop never waits behind a large or hostile object, and a worker past its time or heap is
// ended and replaced, its request answered.
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
// Each within the per-pattern limit, new to every cache, 10-30 ms to compile.
const costly = (n: number) => Array.from({ length: n }, () => `\\pL{20}${Math.random().toString(36).slice(2)}`);

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

  it('ends a worker past its deadline once the request is decoded: object-budget-exceeded with the uid, an audit line, and a fresh worker for the next', async () => {
    // 8 costly patterns take well over 60 ms to compile; the regex timeout is out of the way.
    const { app, lines } = testApp([namespace('shop')], undefined, true, { regexTimeoutMs: 60_000, validation: { deadlineMs: 60 } });
    const body = virtualService(costly(8));
    const res = await app.inject({ method: 'POST', url: '/validate', headers: json, payload: JSON.stringify(body) });
    expect(res.statusCode).toBe(200);
    const { response } = res.json();
    expect(response).toMatchObject({ uid: body.request.uid, allowed: false });
    expect(response.status.message).toBe(
      '[object-budget-exceeded] meshguard could not finish checking the object: it took longer than 60 ms (README "Object budget"); meshguard did not check it. Split it into several smaller objects. (at (the object))',
    );
    expect(lines.at(-1)).toMatchObject({ audit: true, webhook: 'validate', kind: 'VirtualService', namespace: 'shop', result: 'denied', rules: ['object-budget-exceeded'] });
    const next = await app.inject({ method: 'POST', url: '/validate', headers: json, payload: JSON.stringify(authorizationPolicy({})) });
    await app.close();
    expect(next.json().response).toMatchObject({ allowed: true });
  });

  it('refuses with a 413, not a 500, a body its worker could not parse within the deadline', async () => {
    const { app } = testApp([namespace('shop')], undefined, true, { validation: { deadlineMs: 1 } });
    const res = await app.inject({ method: 'POST', url: '/validate', headers: json, payload: sixMiB() });
    await app.close();
    expect(res.statusCode).toBe(413);
    expect(res.json().message).toBe('the AdmissionReview could not be read: it took longer than 1 ms');
  });

  it("decides with the store's later changes: each worker's replica follows upserts, removals, replaces and served kinds", async () => {
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

  it('runs its workers, and the regex compiler they start, at nice 10 while the main thread keeps its priority (thread-priority.ts)', async () => {
    const nices = () =>
      readdirSync('/proc/self/task').map((tid) => {
        // Field 19 of /proc/<tid>/stat, counted after the ")" that ends the thread's name.
        const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
        return { tid: Number(tid), nice: Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]) };
      });
    const before = new Set(nices().map((t) => t.tid));
    const { app } = testApp([namespace('shop')]);
    const res = await app.inject({ method: 'POST', url: '/validate', headers: json, payload: JSON.stringify(virtualService(['^/a/[0-9]+$'])) });
    expect(res.json().response.allowed).toBe(true);
    const started = nices().filter((t) => !before.has(t.tid));
    const main = nices().find((t) => t.tid === process.pid);
    await app.close();
    // The validation worker and the compile worker it started (libuv's pool threads may come too).
    expect(started.filter((t) => t.nice === WORKER_NICE).length).toBeGreaterThanOrEqual(2);
    expect(main?.nice).toBe(0);
  });
});
