import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseManifests } from '../../../src/cluster/from-files.js';
import { checkManifests } from '../../../src/check/run.js';
import { loadPolicyFile } from '../../../src/policy/load.js';
import { runPlan } from '../../../src/plan/command.js';
import type { PlanReport } from '../../../src/plan/report.js';
import { stringify } from 'yaml';

async function run(argv: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await runPlan(argv, { stdout: { write: (t: string) => (stdout += t) }, stderr: { write: (t: string) => (stderr += t) } });
  return { code, stdout, stderr };
}

const dir = mkdtempSync(join(tmpdir(), 'meshguard-plan-'));
const CLUSTER = 'examples/plan';

describe('meshguard plan', () => {
  it.each([
    ['--help', 0, ['--help']],
    ['an unknown option', 2, ['--fix']],
    ['an unknown format', 2, ['--format', 'sarif', '--cluster-state', CLUSTER]],
    ['a negative price', 2, ['--cpu-cost-per-core-hour', '-1', '--cluster-state', CLUSTER]],
    ['a price that is not a number', 2, ['--memory-cost-per-gib-hour', 'cheap', '--cluster-state', CLUSTER]],
    ['both sources', 2, ['--kubeconfig', 'x', '--cluster-state', CLUSTER]],
    ['a missing directory', 2, ['--cluster-state', join(dir, 'nope')]],
    ['a bad policy file', 2, ['--policy', join(dir, 'nope.yaml'), '--cluster-state', CLUSTER]],
  ])('%s: exit %i', async (_n, code, argv) => {
    const r = await run(argv);
    expect(r.code).toBe(code);
    if (code === 2) expect(r.stderr).toMatch(/^meshguard plan: /);
  });

  it('gives each example namespace its verdict, in JSON', async () => {
    const r = await run(['--cluster-state', CLUSTER, '--format', 'json']);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as PlanReport;
    expect(Object.fromEntries(report.namespaces.map((n) => [n.namespace, n.verdict]))).toEqual({
      catalog: 'ready',
      edge: 'already-ambient',
      legacy: 'stays-sidecar',
      shop: 'needs-waypoint',
      tools: 'not-in-mesh',
    });
    expect(report.summary.pods).toEqual({ now: { sidecar: 11, ambient: 1, none: 1 }, after: { sidecar: 2, ambient: 10, none: 1 } });
    const legacy = report.namespaces.find((n) => n.namespace === 'legacy')!;
    expect(legacy.reasons.map((x) => `${x.id} ${x.object.kind}/${x.object.name}`)).toEqual(['envoyfilter-workload EnvoyFilter/billing-lua', 'pod-stays-sidecar Deployment/reports']);
    expect(report.basis).toMatch(/not measured usage/);
    // 11 sidecars at their container requests; ztunnel (defaults) on the 2 nodes the pods use.
    expect(report.savings.now.cpu).toBeCloseTo(0.1 * 3 + 0.2 + 0.1 * 2 + 0.25 * 2 + 0.1 + 0.5 + 0.1);
    expect(report.savings.after.cpu).toBeCloseTo(0.5 + 0.1 + 0.1 + 2 * 0.2);
  });

  it('--namespace plans only that namespace; prices change the money, not the requests', async () => {
    const r = await run(['--cluster-state', CLUSTER, '--format', 'json', '--namespace', 'shop', '--cpu-cost-per-core-hour', '1', '--memory-cost-per-gib-hour', '0']);
    const report = JSON.parse(r.stdout) as PlanReport;
    expect(report.namespaces.map((n) => n.namespace)).toEqual(['shop']);
    const shop = report.namespaces[0];
    expect(shop.savings!.saved.cpu).toBeCloseTo(0.7);
    expect(shop.savings!.savedMonthly).toBeCloseTo(0.7 * 730);
  });

  it('writes text to --out, and the manifests in it pass meshguard check', async () => {
    const out = join(dir, 'plan.txt');
    expect((await run(['--cluster-state', CLUSTER, '--out', out])).code).toBe(0);
    const text = readFileSync(out, 'utf8');
    expect(text).toContain('== namespace shop: needs a waypoint');
    expect(text).toContain('kubectl label namespace shop istio.io/dataplane-mode=ambient istio.io/use-waypoint=waypoint istio-injection- --overwrite');
    const json = JSON.parse((await run(['--cluster-state', CLUSTER, '--format', 'json'])).stdout) as PlanReport;
    const manifests = json.namespaces.flatMap((n) => n.manifests);
    expect(manifests.length).toBe(7);
    const file = join(dir, 'manifests.yaml');
    writeFileSync(file, manifests.map((m) => stringify(m)).join('---\n'));
    const report = checkManifests(parseManifests(readFileSync(file, 'utf8'), file), loadPolicyFile());
    expect(report.findings).toEqual([]);
  });

  it('plans a namespace that holds no pods yet (the reader hands the plan Namespace objects too)', async () => {
    const file = join(dir, 'empty-ns.yaml');
    writeFileSync(file, 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: fresh\n  labels: {istio-injection: enabled}\n');
    const report = JSON.parse((await run(['--cluster-state', file, '--format', 'json'])).stdout) as PlanReport;
    expect(report.namespaces.map((n) => [n.namespace, n.verdict])).toEqual([['fresh', 'ready']]);
  });

  it('--out to a directory that does not exist is a clear error', async () => {
    const r = await run(['--cluster-state', CLUSTER, '--out', join(dir, 'no', 'such', 'file')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/cannot write .*ENOENT/);
  });
});
