import fc from 'fast-check';
import fastJsonPatch from 'fast-json-patch';
import { describe, expect, it } from 'vitest';
import { decidePodMode } from '../../../src/mutate/pod-mode.js';
import { decisionRecord } from '../../../src/mutate/decision-record.js';
import { MODE_LABELS, podModePatch } from '../../../src/mutate/patch.js';
import { namespaceConfig } from '../../../src/policy/namespace-config.js';
import { policy } from '../../helpers/objects.js';

const value = (...values: string[]) => fc.option(fc.constantFrom(...values), { nil: undefined });
const map = (entries: Record<string, string | undefined>) =>
  Object.fromEntries(Object.entries(entries).filter(([, v]) => v !== undefined)) as Record<string, string>;

const namespaceLabels = fc.record({
  'meshguard.io/enforcement': value('enforce', 'warn', 'audit', 'off', 'bogus'),
  'meshguard.io/default-mode': value('ambient', 'sidecar', 'none', 'weird'),
  'meshguard.io/allow-mode-override': value('true', 'false'),
  'istio.io/dataplane-mode': value('ambient', 'none', 'sidecar'),
  'istio-injection': value('enabled', 'disabled'),
  'istio.io/rev': value('canary', 'stable'),
});

const podArb = fc.record({
  labels: fc.option(
    fc.record({
      'istio.io/dataplane-mode': value('ambient', 'none', 'sidecar', ''),
      'sidecar.istio.io/inject': value('true', 'false', 'yes'),
      app: value('web', 'job'),
      'a/b~c': value('escaped'),
    }),
    { nil: undefined },
  ),
  annotations: fc.option(
    fc.record({
      'meshguard.io/mode': value('ambient', 'sidecar', 'none', 'bogus'),
      'sidecar.istio.io/inject': value('true', 'false'),
      'sidecar.istio.io/userVolume': value('[]'),
      'meshguard.io/decision': value('sidecar/namespace-default', 'ambient/pod-override', 'ambient/namespace-default', 'none/pod-istio-labels', 'junk'),
      'x/y': value('z'),
    }),
    { nil: undefined },
  ),
  hostNetwork: fc.option(fc.boolean(), { nil: undefined }),
  owner: value('Job', 'DaemonSet', 'ReplicaSet', 'StatefulSet'),
});

const MODE_KEYS = ['istio.io/dataplane-mode', 'sidecar.istio.io/inject'];

describe('property: decide + patch on random pods and namespaces', () => {
  it('applies cleanly, touches only the mode labels and the decision annotation, and is idempotent', () => {
    fc.assert(
      fc.property(podArb, namespaceLabels, (p, nsLabels) => {
        const pod: any = {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: {
            name: 'p',
            ...(p.labels && { labels: map(p.labels) }),
            ...(p.annotations && { annotations: map(p.annotations) }),
            ...(p.owner && { ownerReferences: [{ kind: p.owner, name: 'o' }] }),
          },
          spec: { hostNetwork: p.hostNetwork, containers: [{ name: 'c' }] },
        };
        const ns = namespaceConfig({ metadata: { name: 'ns', labels: map(nsLabels) } }, policy);
        const decision = decidePodMode(pod, ns, policy);
        const record = decisionRecord(pod, decision, ns, policy);
        const ops = podModePatch(pod, decision.mode, record);

        for (const op of ops) {
          expect(op.op).toBe('add');
          const key = op.path.split('/').slice(3).join('/').replaceAll('~1', '/').replaceAll('~0', '~');
          if (op.path.startsWith('/metadata/labels/')) expect(MODE_KEYS).toContain(key);
          else if (op.path.startsWith('/metadata/annotations/')) expect(key).toBe('meshguard.io/decision');
          else expect(['/metadata/labels', '/metadata/annotations']).toContain(op.path);
        }
        expect(fastJsonPatch.validate(ops, pod)).toBeUndefined();
        const patched = fastJsonPatch.applyPatch(structuredClone(pod), ops, true, false).newDocument;

        // Everything else on the pod is untouched.
        const strip = (o: any) => {
          const c = structuredClone(o);
          for (const k of MODE_KEYS) delete c.metadata.labels?.[k];
          delete c.metadata.annotations?.['meshguard.io/decision'];
          if (c.metadata.labels && !Object.keys(c.metadata.labels).length && !pod.metadata.labels) delete c.metadata.labels;
          if (c.metadata.annotations && !Object.keys(c.metadata.annotations).length && !pod.metadata.annotations) delete c.metadata.annotations;
          return c;
        };
        expect(strip(patched)).toEqual(strip(pod));

        // The record is this decision, unless the pod already carried exactly the mode's labels and a
        // record of what the other rules decide for it (what a reinvocation sees).
        const decided = `${decision.mode}/${decision.rule}`;
        expect(patched.metadata.annotations['meshguard.io/decision']).toBe(record);
        if (record !== decided) {
          const modeLabels = MODE_LABELS[decision.mode];
          expect(Object.entries(modeLabels).every(([k, v]) => pod.metadata.labels?.[k] === v)).toBe(true);
          expect(record).toBe(pod.metadata.annotations['meshguard.io/decision']);
          const others = decidePodMode(pod, ns, policy, { withoutIstioLabels: true });
          expect(record).toBe(`${others.mode}/${others.rule}`);
        }

        // Re-running on the patched pod (a reinvocation) decides the same mode, keeps the record, and
        // patches nothing.
        const again = decidePodMode(patched, ns, policy);
        expect(again.mode).toBe(decision.mode);
        expect(decisionRecord(patched, again, ns, policy)).toBe(record);
        expect(podModePatch(patched, again.mode, decisionRecord(patched, again, ns, policy))).toEqual([]);
      }),
      { numRuns: 2000 },
    );
  });
});
