import { describe, expect, it } from 'vitest';
import { readManifests, storeFromDirectory } from '../../../src/cluster/from-files.js';
import type { ClusterSnapshot } from '../../../src/cluster/snapshot.js';
import { parseApiVersion, type KubeObject } from '../../../src/kube.js';
import { loadPolicyFile } from '../../../src/policy/load.js';
import { needsOnlyNamespace, NAMESPACE_ONLY_KINDS, validateObject, type ValidationInput } from '../../../src/validate/index.js';

// The validation workers decide NAMESPACE_ONLY_KINDS with nothing of the cluster but the request's
// namespace (src/server/validation-worker.ts). This holds only while no rule for those kinds reads
// more: a snapshot that throws on any other read proves it over every such object in examples/, and
// over each kind with every operation.
const policy = loadPolicyFile();
const cluster = storeFromDirectory('examples/cluster');

/** The cluster, but any read other than `namespace()` throws. */
const onlyNamespaces: ClusterSnapshot = new Proxy(cluster, {
  get(target, key, receiver) {
    if (key === 'namespace') return target.namespace.bind(target);
    const value = Reflect.get(target, key, receiver) as unknown;
    return typeof value === 'function'
      ? () => {
          throw new Error(`a rule read ${String(key)}() of the cluster`);
        }
      : value;
  },
});

const inputOf = (object: KubeObject, operation: ValidationInput['operation'] = 'CREATE'): ValidationInput => {
  const { group, version } = parseApiVersion(object.apiVersion);
  const metadata = object.metadata;
  return { operation, group, version, kind: String(object.kind), namespace: metadata?.namespace ?? 'shop', name: metadata?.name, object, oldObject: operation === 'UPDATE' ? object : undefined };
};

describe('kinds decided with only their namespace (validate/index.ts NAMESPACE_ONLY_KINDS)', () => {
  // examples/ has no Istio Gateway or Sidecar of its own.
  const more: KubeObject[] = [
    { apiVersion: 'networking.istio.io/v1', kind: 'Gateway', metadata: { name: 'ingress', namespace: 'shop' }, spec: { selector: { istio: 'ingressgateway' }, servers: [{ port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['*'] }] } },
    { apiVersion: 'networking.istio.io/v1beta1', kind: 'Sidecar', metadata: { name: 'default', namespace: 'shop' }, spec: { egress: [{ hosts: ['./*'] }] } },
  ];
  const examples = [...readManifests(['examples']).map((d) => d.object), ...more].filter((o) => needsOnlyNamespace(inputOf(o)));

  it('covers objects of every such kind in examples/', () => {
    const kinds = new Set(examples.map((o) => `${parseApiVersion(o.apiVersion).group}/${String(o.kind)}`));
    expect([...kinds].sort()).toEqual(Object.entries(NAMESPACE_ONLY_KINDS).flatMap(([g, ks]) => ks.map((k) => `${g}/${k}`)).sort());
  });

  it.each(['CREATE', 'UPDATE', 'DELETE'] as const)('finds the same with only the namespace as with the whole cluster, on %s', (operation) => {
    for (const object of examples) {
      const input = inputOf(object, operation);
      expect(validateObject(input, onlyNamespaces, policy, new Map()), `${String(object.kind)} ${String((object.metadata as { name?: string }).name)}`).toEqual(
        validateObject(input, cluster, policy, new Map()),
      );
    }
  });

  it('would catch a rule that reads more: an AuthorizationPolicy with a targetRef looks its target up', () => {
    const policyObject = { apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: 'p', namespace: 'shop' }, spec: { targetRefs: [{ kind: 'Service', group: '', name: 'reviews' }] } };
    expect(needsOnlyNamespace(inputOf(policyObject))).toBe(false);
    expect(() => validateObject(inputOf(policyObject), onlyNamespaces, policy, new Map())).toThrow(/a rule read/);
  });
});
