import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ClusterStore } from '../../src/cluster/snapshot.js';
import { describeRange, inRange, ISTIO_VERSIONS, LATEST_ISTIO_VERSION } from '../../src/istio-version.js';
import type { KubeObject } from '../../src/kube.js';
import { loadPolicyFile, parsePolicy, PolicyError, withIstioVersion } from '../../src/policy/load.js';
import { RULE_VERSIONS } from '../../src/rules.js';
import { validateObject, type ValidationInput } from '../../src/validate/index.js';
import { SERVICE_ENTRY_VISIBILITY_VERSIONS } from '../../src/validate/service-entry-visibility.js';

// Version-dependent rules run at the boundaries: the last version before each change and the
// first version with it.
const shipped = loadPolicyFile();
const at = (version: string) => withIstioVersion(shipped, version);

const ambientNs: KubeObject = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop', labels: { 'istio.io/dataplane-mode': 'ambient' } } };

function rulesAt(version: string, object: KubeObject, cluster: KubeObject[] = [ambientNs]): string[] {
  const [group, v] = object.apiVersion!.includes('/') ? object.apiVersion!.split('/') : ['', object.apiVersion!];
  const input: ValidationInput = { operation: 'CREATE', group, version: v, kind: object.kind!, namespace: object.metadata?.namespace, name: object.metadata?.name, object };
  return validateObject(input, new ClusterStore(cluster), at(version)).map((f) => f.rule);
}
function messagesAt(version: string, object: KubeObject): string[] {
  const input: ValidationInput = { operation: 'CREATE', group: 'security.istio.io', version: 'v1', kind: object.kind!, namespace: 'shop', object };
  return validateObject(input, new ClusterStore([ambientNs]), at(version)).map((f) => f.message);
}

const policyWith = (spec: Record<string, unknown>, annotations: Record<string, string> = {}): KubeObject => ({
  apiVersion: 'security.istio.io/v1',
  kind: 'AuthorizationPolicy',
  metadata: { name: 'p', namespace: 'shop', annotations },
  spec: { selector: { matchLabels: { app: 'a' } }, ...spec },
});

describe('the Istio version setting', () => {
  it('defaults to the newest version meshguard knows', () => {
    expect(LATEST_ISTIO_VERSION).toBe('1.31');
    expect(parsePolicy('clusterDefaultMode: ambient').istioVersion).toBe('1.31');
    expect(shipped.istioVersion).toBe('1.31');
  });

  it('is checked when the policy file is loaded and when it is overridden', () => {
    expect(parsePolicy('clusterDefaultMode: ambient\nistioVersion: "1.26"').istioVersion).toBe('1.26');
    expect(() => parsePolicy('clusterDefaultMode: ambient\nistioVersion: "1.21"')).toThrow(/istioVersion: must be equal to one of the allowed values: 1\.22, .*1\.31/);
    expect(() => parsePolicy('clusterDefaultMode: ambient\nistioVersion: 1.3')).toThrow(PolicyError);
    expect(() => withIstioVersion(shipped, '2.0')).toThrow('--istio-version: "2.0" is not an Istio version meshguard knows; use one of 1.22, 1.23');
    expect(withIstioVersion(shipped, undefined)).toBe(shipped);
  });

  it('ranges are inclusive at both ends', () => {
    expect(ISTIO_VERSIONS.filter((v) => inRange(v, { since: '1.29', until: '1.30' }))).toEqual(['1.29', '1.30']);
    expect(describeRange({ since: '1.31' })).toBe('1.31+');
    expect(describeRange({ since: '1.22', until: '1.30' })).toBe('1.22–1.30');
    expect(describeRange(undefined)).toBe('all');
  });
});

describe('boundaries of version-dependent rules', () => {
  it('authz-ztunnel-unsupported-field: from 1.31 (trustDomains is new there)', () => {
    const object = policyWith({ rules: [{ from: [{ source: { namespaces: ['web'], trustDomains: ['td'] } }] }] });
    expect(rulesAt('1.30', object)).toEqual([]);
    expect(rulesAt('1.31', object)).toEqual(['authz-ztunnel-unsupported-field']);
  });

  it('authz-dry-run-ignored: enforced for real up to 1.28, dropped unless enabled from 1.29', () => {
    const object = policyWith({ action: 'DENY', rules: [{ to: [{ operation: { ports: ['22'] } }] }] }, { 'istio.io/dry-run': 'true' });
    expect(messagesAt('1.28', object)).toEqual([expect.stringContaining('before Istio 1.29 istiod does not pass istio.io/dry-run to ztunnel, so ztunnel enforces this policy for real')]);
    expect(messagesAt('1.29', object)).toEqual([expect.stringContaining('only when it runs with AMBIENT_ENABLE_DRY_RUN_AUTHORIZATION_POLICY=true')]);
  });

  it('deprecation catalog entries apply from their since version (warmupDurationSecs: 1.24)', () => {
    const dr: KubeObject = { apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'd', namespace: 'shop' }, spec: { host: 'x', trafficPolicy: { loadBalancer: { warmupDurationSecs: '10s' } } } };
    expect(rulesAt('1.23', dr)).toEqual([]);
    expect(rulesAt('1.24', dr)).toEqual(['deprecated-field']);
  });

  it('removed-api-version: TCPRoute v1alpha2 from 1.31 (Gateway API v1.6 standard channel); its v1 twin is allowed', () => {
    const route = (version: string): KubeObject => ({ apiVersion: `gateway.networking.k8s.io/${version}`, kind: 'TCPRoute', metadata: { name: 'r', namespace: 'shop' }, spec: {} });
    expect(rulesAt('1.30', route('v1alpha2'))).toEqual([]);
    expect(rulesAt('1.31', route('v1alpha2'))).toEqual(['removed-api-version']);
    expect(rulesAt('1.31', route('v1'))).toEqual([]);
    const tls = (version: string): KubeObject => ({ apiVersion: `gateway.networking.k8s.io/${version}`, kind: 'TLSRoute', metadata: { name: 'r', namespace: 'shop' }, spec: {} });
    expect(rulesAt('1.31', tls('v1alpha3'))).toEqual(['removed-api-version']);
  });

  it('removed-annotation sidecar.istio.io/statsCompression: from 1.30 (release note 48051)', () => {
    const pod: KubeObject = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', namespace: 'shop', annotations: { 'sidecar.istio.io/statsCompression': 'false' } }, spec: { containers: [] } };
    expect(rulesAt('1.29', pod)).not.toContain('removed-annotation');
    expect(rulesAt('1.30', pod)).toContain('removed-annotation');
  });

  const gateway = (className: string, listeners: unknown[] = []): KubeObject => ({
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'Gateway',
    metadata: { name: 'wp', namespace: 'shop' },
    spec: { gatewayClassName: className, listeners },
  });

  it('istio-agentgateway-waypoint is a waypoint class from 1.31 (needs the HBONE listener)', () => {
    expect(rulesAt('1.30', gateway('istio-agentgateway-waypoint'))).toEqual([]);
    expect(rulesAt('1.31', gateway('istio-agentgateway-waypoint'))).toEqual(['waypoint-listener-invalid']);
  });

  it('istio-agentgateway is an ingress class from 1.29 (not a waypoint to bind to)', () => {
    const service: KubeObject = { apiVersion: 'v1', kind: 'Service', metadata: { name: 's', namespace: 'shop', labels: { 'istio.io/use-waypoint': 'wp' } } };
    const cluster = [ambientNs, gateway('istio-agentgateway')];
    expect(rulesAt('1.28', service, cluster)).toEqual([]);
    expect(rulesAt('1.29', service, cluster)).toEqual(['waypoint-not-a-waypoint']);
  });
});

describe("the README's version table", () => {
  const section = (() => {
    const readme = readFileSync('README.md', 'utf8');
    const start = readme.indexOf('### Istio versions');
    return readme.slice(start, readme.indexOf('\n## ', start));
  })();

  it('lists every version-dependent rule with its range', () => {
    for (const [rule, range] of Object.entries(RULE_VERSIONS)) expect(section).toContain(`| \`${rule}\` | ${describeRange(range)} |`);
  });

  it('lists the ServiceEntry visibility check (serviceentry_visibility.go) with its range', () => {
    expect(section).toContain(`| \`waypoint-cross-namespace-denied\` for a ServiceEntry of \`NAMESPACE\` visibility | ${describeRange(SERVICE_ENTRY_VISIBILITY_VERSIONS)} |`);
  });

  it('lists every catalog entry that does not hold for all versions', () => {
    for (const entry of shipped.deprecations.filter((e) => e.since !== '1.22' || e.until !== undefined)) {
      const paths = typeof entry.path === 'string' ? [entry.path] : entry.path;
      const last = (paths[0] ?? '').split('.').pop() ?? '';
      expect(section, `${entry.rule} ${last}`).toMatch(new RegExp(`${entry.rule}.*${last.replace(/[[\]"]/g, '.')}.*\\| ${describeRange(entry).replace('+', '\\+')}`));
    }
  });
});
