import { describe, expect, it } from 'vitest';
import { NamespaceLookup, type NamespaceFetch } from '../../../src/cluster/namespace-lookup.js';
import { ClusterStore } from '../../../src/cluster/snapshot.js';
import type { KubeObject } from '../../../src/kube.js';
import { testApp } from '../../helpers/app.js';
import { namespace, pod, podReview, review } from '../../helpers/objects.js';

const store = new ClusterStore([namespace('known', { 'meshguard.io/enforcement': 'enforce' })]);

/** A fetch that answers when the test says so, recording each call. */
function controlledFetch() {
  const calls: string[] = [];
  const signals: AbortSignal[] = [];
  const waiting = new Map<string, (ns: KubeObject | undefined) => void>();
  const fetch: NamespaceFetch = (name, signal) => {
    calls.push(name);
    signals.push(signal);
    return new Promise((resolve) => waiting.set(name, resolve));
  };
  return { fetch, calls, signals, answer: (name: string, ns: KubeObject | undefined) => waiting.get(name)!(ns) };
}

describe('NamespaceLookup', () => {
  it('fetches a missing namespace once for every request that misses it meanwhile, and decides with it', async () => {
    const f = controlledFetch();
    const lookup = new NamespaceLookup(f.fetch);
    const pending = Array.from({ length: 10 }, () => lookup.resolve(store, 'fresh'));
    f.answer('fresh', namespace('fresh', { 'meshguard.io/enforcement': 'audit' }));
    const results = await Promise.all(pending);
    expect(f.calls).toEqual(['fresh']);
    for (const r of results) {
      expect(r.result).toBe('fetched');
      if (r.result !== 'fetched') continue;
      expect(r.snapshot.namespace('fresh')?.metadata?.labels).toEqual({ 'meshguard.io/enforcement': 'audit' });
      // Everything else is the store's.
      expect(r.snapshot.namespace('known')).toBe(store.namespace('known'));
      expect(r.snapshot.has('Gateway')).toBe(true);
    }
    // Used for those requests only: the store (the informer's) is untouched.
    expect(store.namespace('fresh')).toBeUndefined();
  });

  it('fetches again on a later miss (nothing is cached beside the informer)', async () => {
    const f = controlledFetch();
    const lookup = new NamespaceLookup(f.fetch);
    const first = lookup.resolve(store, 'again');
    f.answer('again', namespace('again'));
    await first;
    const second = lookup.resolve(store, 'again');
    f.answer('again', namespace('again'));
    await second;
    expect(f.calls).toEqual(['again', 'again']);
  });

  it('a namespace that does not exist is not-found', async () => {
    const lookup = new NamespaceLookup(() => Promise.resolve(undefined));
    expect(await lookup.resolve(store, 'gone')).toEqual({ result: 'not-found', reason: 'namespace gone does not exist' });
  });

  it('an API server that does not answer in time fails the lookup, and the GET is aborted', async () => {
    const f = controlledFetch();
    const lookup = new NamespaceLookup(f.fetch, 50);
    const started = Date.now();
    expect(await lookup.resolve(store, 'slow')).toEqual({ result: 'failed', reason: 'GET namespace slow: no answer within 50 ms' });
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(f.signals[0].aborted).toBe(true);
  });

  it('a failed GET fails the lookup with its reason', async () => {
    const lookup = new NamespaceLookup(() => Promise.reject(new Error('HTTP 403')));
    expect(await lookup.resolve(store, 'private')).toEqual({ result: 'failed', reason: 'GET namespace private: HTTP 403' });
  });

  it('a name that cannot be a namespace is never sent to the API server', async () => {
    const f = controlledFetch();
    const lookup = new NamespaceLookup(f.fetch);
    for (const bad of ['../secrets', 'Upper', 'a'.repeat(64), '-x', 'x/y']) {
      expect(await lookup.resolve(store, bad)).toEqual({ result: 'failed', reason: 'not a valid namespace name' });
    }
    expect(f.calls).toEqual([]);
  });

  it('bounds the distinct namespaces fetched at once: beyond that a miss fails at once', async () => {
    const f = controlledFetch();
    const lookup = new NamespaceLookup(f.fetch, 1_000, 2);
    const a = lookup.resolve(store, 'a');
    const b = lookup.resolve(store, 'b');
    expect(await lookup.resolve(store, 'c')).toEqual({ result: 'failed', reason: '2 namespace lookups already in flight' });
    // The same namespace joins the GET in flight.
    const a2 = lookup.resolve(store, 'a');
    f.answer('a', namespace('a'));
    f.answer('b', namespace('b'));
    expect((await Promise.all([a, b, a2])).map((r) => r.result)).toEqual(['fetched', 'fetched', 'fetched']);
    expect(f.calls).toEqual(['a', 'b']);
  });
});

describe('the webhook on a namespace cache miss', () => {
  const mutate = async (lookup: NamespaceLookup, body: unknown) => {
    const { app, lines, metrics } = testApp([], undefined, true, { namespaceLookup: lookup });
    const res = await app.inject({ method: 'POST', url: '/mutate', headers: { 'content-type': 'application/json' }, payload: JSON.stringify(body) });
    return { response: res.json().response, line: lines.at(-1), metrics: await metrics.registry.getSingleMetricAsString('meshguard_namespace_lookups_total') };
  };

  it('decides a pod by the fetched namespace, not the cluster defaults', async () => {
    const lookup = new NamespaceLookup((name) => Promise.resolve(namespace(name, { 'meshguard.io/enforcement': 'enforce', 'istio-injection': 'enabled' })));
    const { response, line, metrics } = await mutate(lookup, podReview('new-team', pod()));
    expect(line).toMatchObject({ mode: 'sidecar', rule: 'namespace-default', enforcement: 'enforce', namespaceLookup: { result: 'fetched' } });
    expect(response.patch).toBeDefined();
    expect(metrics).toMatch(/result="fetched"} 1/);
  });

  it('admits without a patch when the namespace cannot be read, and says why in the audit line and a metric', async () => {
    const lookup = new NamespaceLookup(() => Promise.reject(new Error('connect ECONNREFUSED 10.0.0.1:443')));
    const { response, line, metrics } = await mutate(lookup, podReview('new-team', pod()));
    expect(response).toMatchObject({ allowed: true });
    expect(response.patch).toBeUndefined();
    expect(line).toMatchObject({
      result: 'allowed',
      enforcement: 'none',
      namespaceLookup: { result: 'failed', reason: 'GET namespace new-team: connect ECONNREFUSED 10.0.0.1:443' },
    });
    expect(line.mode).toBeUndefined();
    expect(metrics).toMatch(/result="failed"} 1/);
  });

  it('does not look up a namespace the cache holds, nor a Namespace being created (its own labels govern it)', async () => {
    const f = controlledFetch();
    const lookup = new NamespaceLookup(f.fetch);
    const { app, lines } = testApp([namespace('known', { 'meshguard.io/enforcement': 'enforce' })], undefined, true, { namespaceLookup: lookup });
    const post = (url: string, body: unknown) => app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json' }, payload: JSON.stringify(body) });
    await post('/mutate', podReview('known', pod()));
    const ns = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'brand-new', labels: { 'istio-injection': 'enabled', 'istio.io/dataplane-mode': 'ambient' } } };
    await post('/validate', review({ kind: { group: '', version: 'v1', kind: 'Namespace' }, namespace: 'brand-new', name: 'brand-new', object: ns }));
    expect(f.calls).toEqual([]);
    expect(lines.at(-1)).toMatchObject({ kind: 'Namespace', rules: ['namespace-multiple-injection-labels'] });
    expect(lines.every((l) => l.namespaceLookup === undefined)).toBe(true);
  });
});
