import { describe, expect, it } from 'vitest';
import { ClusterStore } from '../../../src/cluster/snapshot.js';
import type { KubeObject } from '../../../src/kube.js';
import { parsePolicy, withIstioVersion } from '../../../src/policy/load.js';
import { validateIngressUseWaypoint } from '../../../src/validate/ingress-use-waypoint.js';

// istiod 1.31 reads istio.io/ingress-use-waypoint with strconv.ParseBool (ingressUseWaypointFromLabels,
// pilot/pkg/serviceregistry/ambient/services.go) and with strings.EqualFold(value, "true")
// (pilot/pkg/serviceregistry/ambient/ambientindex.go).
const policy = parsePolicy('clusterDefaultMode: ambient');
const object = (kind: 'Service' | 'Namespace', value: string): KubeObject => ({
  apiVersion: 'v1',
  kind,
  metadata: { name: 'x', namespace: kind === 'Service' ? 'shop' : undefined, labels: { 'istio.io/ingress-use-waypoint': value } },
});
const check = (obj: KubeObject, p = policy, operation: 'CREATE' | 'UPDATE' | 'DELETE' = 'CREATE') =>
  validateIngressUseWaypoint({ operation, group: '', version: 'v1', kind: obj.kind!, object: obj }, { snapshot: new ClusterStore(), policy: p });

describe('ingress-use-waypoint-invalid', () => {
  it.each([
    ['"1" (ParseBool true, EqualFold false)', '1', 'istiod reads it as true where it builds the Service', 'and as false in the ambient index'],
    ['"yes" (ParseBool fails)', 'yes', 'as false (it cannot parse it, logs a warning and defaults to false)', 'and as false in the ambient index'],
    ['"tRuE" (ParseBool fails, EqualFold true)', 'tRuE', 'as false (it cannot parse it', 'and as true in the ambient index'],
  ])('denies %s on a Service and on a Namespace; "true" and "false" are allowed', (_name, value, first, second) => {
    for (const kind of ['Service', 'Namespace'] as const) {
      const findings = check(object(kind, value));
      expect(findings).toEqual([expect.objectContaining({ rule: 'ingress-use-waypoint-invalid', severity: 'error', path: 'metadata.labels["istio.io/ingress-use-waypoint"]' })]);
      expect(findings[0].message).toContain(first);
      expect(findings[0].message).toContain(second);
      expect(findings[0].message).toContain('Set it to "true" (ingress traffic goes through the waypoint) or "false".');
      expect(check(object(kind, 'true'))).toEqual([]);
      expect(check(object(kind, 'false'))).toEqual([]);
    }
  });

  it('says how older versions read it, and does not run before 1.24', () => {
    expect(check(object('Service', 'TRUE'), withIstioVersion(policy, '1.30'))[0].message).toContain('compares it with "true" ignoring case (strings.EqualFold), so it means true');
    expect(check(object('Service', 'TRUE'), withIstioVersion(policy, '1.24'))[0].message).toContain('compares it with "true" exactly, so it means false');
    expect(check(object('Service', 'TRUE'), withIstioVersion(policy, '1.23'))).toEqual([]);
  });

  it('runs on CREATE and UPDATE only', () => {
    expect(check(object('Service', '1'), policy, 'UPDATE')).toHaveLength(1);
    expect(check(object('Service', '1'), policy, 'DELETE')).toEqual([]);
  });
});
