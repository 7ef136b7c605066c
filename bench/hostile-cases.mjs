// The hostile objects of bench/hostile.mjs (issue 7, items 1-3): each case makes the next batch of
// request bodies, sent one batch at a time during a window (by bench/hostile-sender.mjs).
const review = (kind, group, version, object, namespace = 'shop') => ({
  apiVersion: 'admission.k8s.io/v1',
  kind: 'AdmissionReview',
  request: {
    uid: 'b1e6b9a4-0000-4000-8000-000000000000',
    kind: { group, version, kind },
    resource: { group, version, resource: kind.length > 64 ? "things" : `${kind.toLowerCase()}s` },
    namespace,
    operation: 'CREATE',
    userInfo: { username: 'bench' },
    object,
  },
});
/** The next suffix; each case's sender starts from its own base, so no pattern or kind repeats across cases. */
export const serial = { next: 0 };
// Each pattern is new to the server (a fresh suffix), so no cache can answer it.
const costlyPattern = () => `(?i)[\\pL\\pM\\pN]{360}q${serial.next++}`;
const virtualService = (patterns) =>
  review('VirtualService', 'networking.istio.io', 'v1', {
    apiVersion: 'networking.istio.io/v1',
    kind: 'VirtualService',
    metadata: { name: 'hostile', namespace: 'shop' },
    spec: { hosts: ['reviews'], http: patterns.map((regex) => ({ match: [{ uri: { regex } }], route: [{ destination: { host: 'reviews' } }] })) },
  });
const authorizationPolicy = (spec) =>
  review('AuthorizationPolicy', 'security.istio.io', 'v1', { apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: 'hostile', namespace: 'shop' }, spec });

/** Each case: how to make the next hostile request body(s), sent one batch at a time during the window. */
export const CASES = {
  // The control: an ordinary object sent the same way (one after another, as fast as answered), to
  // tell what any request stream costs /mutate on a shared event loop from what a hostile one adds.
  'benign-vs': {
    about: 'control: an ordinary VirtualService (10 routes, 2 regexes already cached), sent the same way',
    bodies: () => [virtualService(Array.from({ length: 10 }, (_, i) => (i < 2 ? `^/api/v${i}/[a-z]+$` : `^/static${i}$`)))],
  },
  'regex-20': { about: 'VirtualService, 20 distinct (?i)[\\pL\\pM\\pN]{360}q<n> patterns (1.4 KiB)', bodies: () => [virtualService(Array.from({ length: 20 }, costlyPattern))] },
  'regex-100': { about: 'VirtualService, 100 such patterns', bodies: () => [virtualService(Array.from({ length: 100 }, costlyPattern))] },
  'regex-4x25': { about: '4 concurrent VirtualServices of 25 such patterns', bodies: () => Array.from({ length: 4 }, () => virtualService(Array.from({ length: 25 }, costlyPattern))) },
  'regex-60000': { about: 'VirtualService, 60,000 distinct patterns (about 3 MiB)', bodies: () => [virtualService(Array.from({ length: 60_000 }, () => `^/p/${serial.next++}/[a-z]+$`))] },
  'regex-1500-cheap': { about: 'VirtualService, 1,500 distinct cheap patterns (past the old 1,000-entry cache)', bodies: () => [virtualService(Array.from({ length: 1500 }, () => `^/p/${serial.next++}/[a-z]+$`))] },
  'when-keys': {
    about: 'AuthorizationPolicy, 60,000 removed when keys (2.5 MB)',
    bodies: () => [authorizationPolicy({ rules: [{ to: [{ operation: { paths: ['/x'] } }], when: Array.from({ length: 60_000 }, (_, i) => ({ key: 'destination.labels[app]', values: [`v${i}`] })) }] })],
  },
  'target-refs': {
    about: 'AuthorizationPolicy, 100,000 targetRefs (1.3 MB)',
    bodies: () => [authorizationPolicy({ targetRefs: Array.from({ length: 100_000 }, (_, i) => ({ kind: 'Nope', group: 'x', name: `t${i}` })) })],
  },
  'kinds-20000': {
    about: '20,000 reviews, each with a new kind name',
    batch: 200,
    bodies: () => Array.from({ length: 200 }, () => review(`Kind${serial.next++}`, 'example.com', 'v1', { metadata: { name: 'x' } })),
  },
  'kind-4mb': { about: 'reviews with a 4 MB kind name (a new one each)', bodies: () => [review(`K${serial.next++}${'k'.repeat(4 * 1024 * 1024)}`, 'example.com', 'v1', { metadata: { name: 'x' } })] },
};

