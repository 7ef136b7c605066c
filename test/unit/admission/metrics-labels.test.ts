import { describe, expect, it } from 'vitest';
import type { Outcome } from '../../../src/admission/outcome.js';
import { createMetrics, kindLabel } from '../../../src/server/metrics.js';
import { testApp } from '../../helpers/app.js';
import { review } from '../../helpers/objects.js';

// Issue 7 item 3: the `kind` label came from the request, so 20,000 made-up kinds made 20,000 series
// and a 4 MB kind a 4 MB label. /metrics must stay under 1 MB whatever the input.
describe('metrics labels are bounded', () => {
  it.each([
    ['security.istio.io', 'AuthorizationPolicy', 'AuthorizationPolicy'],
    ['networking.istio.io', 'VirtualService', 'VirtualService'],
    ['gateway.networking.k8s.io', 'Gateway', 'Gateway'],
    ['', 'Pod', 'Pod'],
    ['', 'Namespace', 'Namespace'],
    ['example.com', 'Widget', 'other'],
    ['example.com', 'Gateway', 'other'],
    ['constructor', 'toString', 'other'],
    ['', 'pod', 'other'],
  ])('group %j kind %j is counted as %j', (group, kind, label) => {
    expect(kindLabel(group, kind)).toBe(label);
  });

  it('20,000 made-up kinds add one series, and /metrics stays small', async () => {
    const metrics = createMetrics();
    const outcome: Outcome = { allowed: true, result: 'allowed', warnings: [], enforcement: 'none', findings: [] };
    for (let i = 0; i < 20_000; i++) metrics.record('validate', { group: 'example.com', kind: `Kind${i}` }, 'CREATE', outcome, 0.001);
    const text = await metrics.registry.metrics();
    expect(Buffer.byteLength(text)).toBeLessThan(1024 * 1024);
    expect(text).toContain('meshguard_admission_requests_total{webhook="validate",kind="other",operation="CREATE",result="allowed"} 20000');
    expect(text).not.toContain('Kind1');
  });

  it('the webhook counts a request with a 4 MB kind as other', async () => {
    const { app, metrics } = testApp();
    const res = await app.inject({
      method: 'POST',
      url: '/validate',
      payload: review({ kind: { group: 'example.com', version: 'v1', kind: `K${'k'.repeat(4 * 1024 * 1024)}` }, namespace: 'shop', object: { metadata: { name: 'x' } } }),
    });
    await app.close();
    expect(res.statusCode).toBe(200);
    const text = await metrics.registry.metrics();
    expect(Buffer.byteLength(text)).toBeLessThan(64 * 1024);
    expect(text).toContain('kind="other"');
  });
});

// Issue 10 goal 2: counts are summed per label combination and handed to prom-client when /metrics is
// read; every read must show the running totals, whatever came between two reads.
describe('counters read between and after requests', () => {
  it('shows running totals at every read, for each label combination', async () => {
    const metrics = createMetrics();
    const patched: Outcome = { allowed: true, result: 'patched', warnings: [], enforcement: 'enforce', findings: [], mode: 'ambient', modeRule: 'namespace-default' };
    const denied: Outcome = {
      allowed: false, result: 'denied', warnings: [], enforcement: 'enforce', findings: [{ rule: 'authz-target-not-waypoint', severity: 'error', result: 'denied', path: 'spec', message: 'm' }],
    };
    const pod = { group: '', kind: 'Pod' };
    const ap = { group: 'security.istio.io', kind: 'AuthorizationPolicy' };
    const count = async (series: string) => Number((await metrics.registry.metrics()).match(new RegExp(`^${series.replace(/[{}]/g, '\\$&')} (\\d+)$`, 'm'))?.[1] ?? 0);
    const pods = 'meshguard_admission_requests_total{webhook="mutate",kind="Pod",operation="CREATE",result="patched"}';
    const aps = 'meshguard_admission_requests_total{webhook="validate",kind="AuthorizationPolicy",operation="CREATE",result="denied"}';
    const modes = 'meshguard_pod_mode_decisions_total{mode="ambient",rule="namespace-default"}';
    const found = 'meshguard_validation_findings_total{rule="authz-target-not-waypoint",severity="error",result="denied"}';
    for (let i = 0; i < 3; i++) metrics.record('mutate', pod, 'CREATE', patched, 0.001);
    expect([await count(pods), await count(modes), await count(aps)]).toEqual([3, 3, 0]);
    expect(await count(pods)).toBe(3);
    metrics.record('mutate', pod, 'CREATE', patched, 0.001);
    metrics.record('validate', ap, 'CREATE', denied, 0.001);
    metrics.record('validate', ap, 'CREATE', denied, 0.001);
    metrics.invalid('mutate');
    expect([await count(pods), await count(modes), await count(aps), await count(found)]).toEqual([4, 4, 2, 2]);
    expect(await count('meshguard_admission_requests_total{webhook="mutate",kind="",operation="",result="invalid"}')).toBe(1);
    expect(await count('meshguard_admission_duration_seconds_count{webhook="mutate"}')).toBe(4);
  });
});
