import { describe, expect, it } from 'vitest';
import { readClusterFiles } from '../../../src/cluster/read.js';
import { RESOURCES } from '../../../src/cluster/resources.js';
import { SNAPSHOT_KINDS } from '../../../src/cluster/snapshot.js';
import { VALIDATED_KINDS } from '../../../src/validate/index.js';

async function drain(read: ReturnType<typeof readClusterFiles>) {
  const out: string[] = [];
  for await (const page of read.objects()) for (const { object, origin } of page) out.push(`${object.kind} ${object.metadata?.namespace ?? '-'}/${object.metadata?.name} ${origin?.file}:${origin?.line}`);
  return out;
}

describe('RESOURCES', () => {
  it('are exactly the kinds the webhooks judge, snapshot kinds first', () => {
    const validated = Object.entries(VALIDATED_KINDS).flatMap(([group, kinds]) => kinds.map((k) => `${k}.${group}`)).sort();
    expect(RESOURCES.map((r) => `${r.kind}.${r.group}`).sort()).toEqual(validated);
    const firstOther = RESOURCES.findIndex((r) => !SNAPSHOT_KINDS.includes(r.kind as never) || r.group === 'networking.istio.io' && r.kind === 'Gateway');
    expect(RESOURCES.slice(0, firstOther).map((r) => r.kind)).toEqual(['Namespace', 'GatewayClass', 'Gateway', 'Service', 'ServiceEntry']);
  });
});

describe('readClusterFiles', () => {
  it('fills the snapshot from every file, all kinds served, before the objects', () => {
    const read = readClusterFiles(['examples/corpus']);
    for (const kind of SNAPSHOT_KINDS) expect(read.snapshot.has(kind)).toBe(true);
    expect(read.snapshot.gateway('bookinfo', 'waypoint')).toBeDefined();
    expect(read.errors).toEqual([]);
  });

  it('hands over the audited kinds only (not Deployments), with file and line', async () => {
    const objects = await drain(readClusterFiles(['examples/bad/pod-mode.yaml']));
    expect(objects).toEqual(['Namespace -/payments examples/bad/pod-mode.yaml:5', 'Pod payments/debug-shell examples/bad/pod-mode.yaml:57', 'Pod payments/debug-shell-2 examples/bad/pod-mode.yaml:69']);
  });

  it('--namespace keeps that Namespace and its objects, and drops cluster-scoped others', async () => {
    const all = await drain(readClusterFiles(['examples/bad/waypoints.yaml', 'examples/bad/namespace-labels.yaml']));
    const shop = await drain(readClusterFiles(['examples/bad/waypoints.yaml', 'examples/bad/namespace-labels.yaml'], { namespaces: ['shop'] }));
    expect(shop.length).toBeGreaterThan(3);
    expect(shop.every((o) => / shop\/|^Namespace -\/shop /.test(o))).toBe(true);
    expect(all.filter((o) => / shop\/|^Namespace -\/shop /.test(o))).toEqual(shop);
  });
});
