import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serve, type Running } from '../../src/server/main.js';
import { httpsCall } from '../helpers/https.js';

// One denied object and its allowed twin per validated kind, posted over real HTTPS to a server
// whose cluster is examples/cluster (namespace shop is ambient and has the waypoint "waypoint").
const cases: Array<[string, string, string, Record<string, any>, Record<string, any>, string]> = [
  ['security.istio.io', 'v1', 'AuthorizationPolicy',
    { metadata: { name: 'p', namespace: 'shop' }, spec: { selector: { matchLabels: { app: 'a' } }, rules: [{ to: [{ operation: { paths: ['/admin'] } }] }] } },
    { metadata: { name: 'p', namespace: 'shop' }, spec: { targetRefs: [{ kind: 'Gateway', group: 'gateway.networking.k8s.io', name: 'waypoint' }], rules: [{ to: [{ operation: { paths: ['/admin'] } }] }] } },
    'authz-l7-needs-waypoint'],
  ['networking.istio.io', 'v1', 'VirtualService',
    { metadata: { name: 'v', namespace: 'shop' }, spec: { hosts: ['r'], http: [{ match: [{ uri: { regex: '/(?=x)' } }], route: [{ destination: { host: 'r' } }] }] } },
    { metadata: { name: 'v', namespace: 'shop' }, spec: { hosts: ['r'], http: [{ match: [{ uri: { regex: '(?i)/x.*' } }], route: [{ destination: { host: 'r' } }] }] } },
    'regex-invalid'],
  ['networking.istio.io', 'v1', 'DestinationRule',
    { metadata: { name: 'd', namespace: 'shop' }, spec: { host: 'r', trafficPolicy: { loadBalancer: { simple: 'LEAST_CONN' } } } },
    { metadata: { name: 'd', namespace: 'shop' }, spec: { host: 'r', trafficPolicy: { loadBalancer: { simple: 'LEAST_REQUEST' } } } },
    'deprecated-field'],
  ['networking.istio.io', 'v1', 'Gateway',
    { metadata: { name: 'g', namespace: 'shop' }, spec: { servers: [{ port: { number: 80, name: 'http', protocol: 'HTTP', targetPort: 8080 }, hosts: ['*'] }] } },
    { metadata: { name: 'g', namespace: 'shop' }, spec: { servers: [{ port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['*'] }] } },
    'deprecated-field'],
  ['networking.istio.io', 'v1', 'Sidecar',
    { metadata: { name: 's', namespace: 'shop' }, spec: { ingress: [{ port: { number: 80, name: 'http', protocol: 'HTTP', targetPort: 8080 }, defaultEndpoint: '127.0.0.1:8080' }] } },
    { metadata: { name: 's', namespace: 'shop' }, spec: { ingress: [{ port: { number: 80, name: 'http', protocol: 'HTTP' }, defaultEndpoint: '127.0.0.1:8080' }] } },
    'deprecated-field'],
  ['networking.istio.io', 'v1', 'ServiceEntry',
    { metadata: { name: 'e', namespace: 'shop', labels: { 'istio.io/use-waypoint': 'missing' } }, spec: { hosts: ['api.example.com'], resolution: 'DNS' } },
    { metadata: { name: 'e', namespace: 'shop', labels: { 'istio.io/use-waypoint': 'waypoint' } }, spec: { hosts: ['api.example.com'], resolution: 'DNS' } },
    'waypoint-missing'],
  ['gateway.networking.k8s.io', 'v1', 'Gateway',
    { metadata: { name: 'w2', namespace: 'shop' }, spec: { gatewayClassName: 'istio-waypoint', listeners: [{ name: 'mesh', port: 8080, protocol: 'HTTP' }] } },
    { metadata: { name: 'w2', namespace: 'shop' }, spec: { gatewayClassName: 'istio-waypoint', listeners: [{ name: 'mesh', port: 15008, protocol: 'HBONE' }] } },
    'waypoint-listener-invalid'],
  ['gateway.networking.k8s.io', 'v1', 'GatewayClass',
    { metadata: { name: 'c', labels: { 'istio.io/waypoint-for': 'pods' } }, spec: { controllerName: 'istio.io/mesh-controller' } },
    { metadata: { name: 'c', labels: { 'istio.io/waypoint-for': 'workload' } }, spec: { controllerName: 'istio.io/mesh-controller' } },
    'waypoint-for-invalid'],
  ['', 'v1', 'Namespace',
    { metadata: { name: 'n', labels: { 'istio.io/dataplane-mode': 'sidecar' } } },
    { metadata: { name: 'n', labels: { 'istio.io/dataplane-mode': 'ambient' } } },
    'dataplane-mode-invalid'],
  ['', 'v1', 'Service',
    { metadata: { name: 'svc', namespace: 'shop', labels: { 'istio.io/use-waypoint': 'waypiont' } }, spec: { ports: [{ port: 80 }] } },
    { metadata: { name: 'svc', namespace: 'shop', labels: { 'istio.io/use-waypoint': 'waypoint' } }, spec: { ports: [{ port: 80 }] } },
    'waypoint-missing'],
  ['', 'v1', 'Pod',
    { metadata: { name: 'pod', namespace: 'shop', labels: { 'istio.io/use-waypoint': 'nope' } }, spec: { containers: [{ name: 'c', image: 'i' }] } },
    { metadata: { name: 'pod', namespace: 'shop' }, spec: { containers: [{ name: 'c', image: 'i' }] } },
    'waypoint-missing'],
];

describe('POST /validate over HTTPS, for each kind', () => {
  let dir: string;
  let running: Running;
  let ca: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'meshguard-validate-'));
    running = await serve({ host: '127.0.0.1', port: 0, certsDir: dir, clusterState: 'examples/cluster', log: pino({ level: 'silent' }) });
    ca = readFileSync(join(dir, 'ca.crt'), 'utf8');
  });
  afterAll(async () => {
    await running?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const post = (group: string, version: string, kind: string, object: Record<string, any>) =>
    httpsCall(running.port, '/validate', {
      ca,
      body: {
        apiVersion: 'admission.k8s.io/v1',
        kind: 'AdmissionReview',
        request: {
          uid: `${kind}-uid`,
          kind: { group, version, kind },
          operation: 'CREATE',
          namespace: object.metadata.namespace,
          name: object.metadata.name,
          userInfo: { username: 'alice' },
          object: { apiVersion: group ? `${group}/${version}` : version, kind, ...object },
        },
      },
    });

  it.each(cases)('%s %s %s: denied, and its twin admitted', async (group, version, kind, bad, good, rule) => {
    const denied = (await post(group, version, kind, bad)).json().response;
    expect(denied.allowed).toBe(false);
    expect(denied.uid).toBe(`${kind}-uid`);
    expect(denied.status.message).toMatch(new RegExp(`^\\[${rule}\\] `));
    const allowed = (await post(group, version, kind, good)).json().response;
    expect(allowed.allowed).toBe(true);
    expect(allowed.warnings ?? []).toEqual([]);
  });
});
