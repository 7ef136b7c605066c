import fastJsonPatch from 'fast-json-patch';
import { describe, expect, it } from 'vitest';
import { podModePatch } from '../../../src/mutate/patch.js';
import { pod } from '../../helpers/objects.js';

const apply = (obj: object, ops: ReturnType<typeof podModePatch>) =>
  fastJsonPatch.applyPatch(structuredClone(obj), ops, true, false).newDocument as any;

describe('podModePatch', () => {
  it.each([
    ['ambient', { 'istio.io/dataplane-mode': 'ambient', 'sidecar.istio.io/inject': 'false' }],
    ['sidecar', { 'sidecar.istio.io/inject': 'true', 'istio.io/dataplane-mode': 'none' }],
    ['none', { 'istio.io/dataplane-mode': 'none', 'sidecar.istio.io/inject': 'false' }],
  ] as const)('%s sets the real Istio labels and the decision annotation', (mode, labels) => {
    const patched = apply(pod({ labels: { app: 'x' } }), podModePatch(pod({ labels: { app: 'x' } }), mode, `${mode}/namespace-default`));
    expect(patched.metadata.labels).toEqual({ app: 'x', ...labels });
    expect(patched.metadata.annotations).toEqual({ 'meshguard.io/decision': `${mode}/namespace-default` });
  });

  it('escapes "/" in label keys as ~1 (RFC 6901) and adds keys one by one', () => {
    const ops = podModePatch(pod({ labels: { app: 'x' }, annotations: { a: 'b' } }), 'ambient', 'ambient/namespace-default');
    expect(ops).toEqual([
      { op: 'add', path: '/metadata/labels/istio.io~1dataplane-mode', value: 'ambient' },
      { op: 'add', path: '/metadata/labels/sidecar.istio.io~1inject', value: 'false' },
      { op: 'add', path: '/metadata/annotations/meshguard.io~1decision', value: 'ambient/namespace-default' },
    ]);
  });

  it('creates labels and annotations when absent, never replacing whole maps', () => {
    const ops = podModePatch(pod(), 'none', 'none/host-network');
    expect(ops).toEqual([
      { op: 'add', path: '/metadata/labels', value: { 'istio.io/dataplane-mode': 'none', 'sidecar.istio.io/inject': 'false' } },
      { op: 'add', path: '/metadata/annotations', value: { 'meshguard.io/decision': 'none/host-network' } },
    ]);
  });

  it('creates metadata on a pod without it', () => {
    const ops = podModePatch({ kind: 'Pod' }, 'ambient', 'ambient/namespace-default');
    expect(apply({ kind: 'Pod' }, ops).metadata.labels['istio.io/dataplane-mode']).toBe('ambient');
  });

  it('patches nothing when nothing changes', () => {
    const first = pod();
    const patched = apply(first, podModePatch(first, 'sidecar', 'sidecar/namespace-default'));
    expect(podModePatch(patched, 'sidecar', 'sidecar/namespace-default')).toEqual([]);
  });

  it('writes the decision it is given over whatever the pod carried', () => {
    const patched = apply(pod(), podModePatch(pod(), 'sidecar', 'sidecar/namespace-default'));
    expect(podModePatch(patched, 'ambient', 'ambient/pod-override')).toContainEqual({
      op: 'add',
      path: '/metadata/annotations/meshguard.io~1decision',
      value: 'ambient/pod-override',
    });
    expect(podModePatch(patched, 'sidecar', 'sidecar/pod-override')).toEqual([
      { op: 'add', path: '/metadata/annotations/meshguard.io~1decision', value: 'sidecar/pod-override' },
    ]);
  });
});
