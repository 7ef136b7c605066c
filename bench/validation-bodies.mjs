// AdmissionReviews for the /validate benchmarks: a VirtualService with 50 regex matches and an
// AuthorizationPolicy with 20 rules, both valid (the work is checking, not rejecting).
const review = (kind, group, version, namespace, object) =>
  JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: 'b1e6b9a4-0000-4000-8000-000000000000',
      kind: { group, version, kind },
      resource: { group, version, resource: `${kind.toLowerCase()}s` },
      namespace,
      operation: 'CREATE',
      userInfo: { username: 'bench' },
      object,
      dryRun: false,
    },
  });

export function validationBodies() {
  const http = Array.from({ length: 50 }, (_, i) => ({
    name: `route-${i}`,
    match: [
      {
        uri: { regex: `^/api/v${i % 3}/(users|orders|items)/[0-9]+(/details)?$` },
        headers: { 'x-tenant': { regex: `(?i)tenant-${i}-[a-z]+` } },
      },
    ],
    route: [{ destination: { host: 'reviews.shop.svc.cluster.local', subset: `v${(i % 3) + 1}` } }],
  }));
  const virtualService = {
    apiVersion: 'networking.istio.io/v1',
    kind: 'VirtualService',
    metadata: { name: 'reviews', namespace: 'shop' },
    spec: { hosts: ['reviews'], http },
  };
  const rules = Array.from({ length: 20 }, (_, i) => ({
    from: [{ source: { principals: [`cluster.local/ns/shop/sa/client-${i}`], namespaces: ['shop'] } }],
    to: [{ operation: { methods: ['GET', 'POST'], paths: [`/api/v1/resource-${i}/*`], ports: ['9080'] } }],
    when: [{ key: 'request.headers[x-env]', values: ['prod'] }],
  }));
  const authorizationPolicy = {
    apiVersion: 'security.istio.io/v1',
    kind: 'AuthorizationPolicy',
    metadata: { name: 'reviews-l7', namespace: 'shop' },
    spec: { targetRefs: [{ kind: 'Gateway', group: 'gateway.networking.k8s.io', name: 'waypoint' }], action: 'ALLOW', rules },
  };
  return {
    virtualService: review('VirtualService', 'networking.istio.io', 'v1', 'shop', virtualService),
    authorizationPolicy: review('AuthorizationPolicy', 'security.istio.io', 'v1', 'shop', authorizationPolicy),
  };
}
