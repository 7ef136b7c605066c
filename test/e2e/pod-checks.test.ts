// Pods after admission and the pod checks' webhook calls, through a real kube-apiserver with the
// chart's webhooks: a pod UPDATE that changes the mode labels goes through the mode rules (issue 7.9),
// meshguard.io/decision is meshguard's to write, and every pod costs one webhook call, the mutating
// one, which makes the pod checks too, even of a label a later webhook adds (issue 10, goal 1).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { clients, eventually, rejection } from './control-plane.js';
import { startLabelAdder } from './label-adder.js';
import { createNamespace, DECISION, meshguardWithWebhooks, simplePod } from './meshguard-process.js';

const cp = inject('controlPlane');
const { core } = clients(cp);
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

const NS = {
  // Pods here may not choose their mode.
  locked: 'pods-locked',
  open: 'pods-open',
} as const;
const POD_UPDATES = 'pod-updates.validate.meshguard.io';
const POD_MODE = 'pod-mode.meshguard.io';

/** `admission webhook "<webhook>" denied the request: [<rule>] ...`, as kubectl prints it. */
const denied = (webhook: string, rule: string) =>
  new RegExp(`^admission webhook "${webhook.replace(/\./g, '\\.')}" denied the request: \\[${rule}\\] `);

let env: Awaited<ReturnType<typeof meshguardWithWebhooks>>;
beforeAll(async () => {
  env = await meshguardWithWebhooks(cp);
  await createNamespace(cp, NS.locked, { 'meshguard.io/enforcement': 'enforce', 'istio.io/dataplane-mode': 'ambient', 'meshguard.io/allow-mode-override': 'false' });
  await createNamespace(cp, NS.open, { 'meshguard.io/enforcement': 'enforce', 'istio.io/dataplane-mode': 'ambient' });
});
afterAll(async () => {
  await env?.close();
});

let seq = 0;
const fresh = (prefix: string) => `${prefix}-${++seq}`;
const relabel = (namespace: string, name: string, metadata: { labels?: Record<string, string | null>; annotations?: Record<string, string | null> }) =>
  core.patchNamespacedPod({ namespace, name, body: { metadata } }, mergePatch);
/** meshguard's count of validating calls for Pod UPDATEs. */
const podUpdateCalls = () => env.meshguard.metric('meshguard_admission_requests_total', { webhook: 'validate', kind: 'Pod', operation: 'UPDATE' });

describe('a pod cannot leave its mode after admission (issue 7.9)', () => {
  it('relabelling a running pod out of ambient is denied where the namespace forbids overrides', async () => {
    const name = fresh('web');
    const pod = await core.createNamespacedPod({ namespace: NS.locked, body: simplePod(name) });
    expect(pod.metadata?.annotations?.[DECISION]).toBe('ambient/namespace-default');

    const calls = await podUpdateCalls();
    const message = await rejection(relabel(NS.locked, name, { labels: { 'istio.io/dataplane-mode': 'none' } }));
    expect(message).toMatch(denied(POD_UPDATES, 'mode-override-forbidden'));
    expect(message).toContain('changes istio.io/dataplane-mode from "ambient" to "none"');
    expect(await podUpdateCalls()).toBe(calls + 1);
    const stored = await core.readNamespacedPod({ namespace: NS.locked, name });
    expect(stored.metadata?.labels?.['istio.io/dataplane-mode']).toBe('ambient');

    // Removing the label is leaving too; so is the override annotation.
    expect(await rejection(relabel(NS.locked, name, { labels: { 'istio.io/dataplane-mode': null } }))).toMatch(denied(POD_UPDATES, 'mode-override-forbidden'));
    expect(await rejection(relabel(NS.locked, name, { annotations: { 'meshguard.io/mode': 'none' } }))).toMatch(denied(POD_UPDATES, 'mode-override-forbidden'));
  });

  it('other label changes are not even sent to meshguard', async () => {
    const name = fresh('web');
    await core.createNamespacedPod({ namespace: NS.locked, body: simplePod(name) });
    const calls = await podUpdateCalls();
    const updated = await relabel(NS.locked, name, { labels: { version: 'v2' }, annotations: { note: 'x' } });
    expect(updated.metadata?.labels?.version).toBe('v2');
    expect(await podUpdateCalls()).toBe(calls);
  });

  it('where overrides are allowed, the same rules as at CREATE: a valid mode is allowed, an invalid one denied', async () => {
    const name = fresh('web');
    await core.createNamespacedPod({ namespace: NS.open, body: simplePod(name) });
    const optedOut = await relabel(NS.open, name, { labels: { 'istio.io/dataplane-mode': 'none' } });
    expect(optedOut.metadata?.labels?.['istio.io/dataplane-mode']).toBe('none');
    expect(await rejection(relabel(NS.open, name, { labels: { 'istio.io/dataplane-mode': 'sidecar' } }))).toMatch(denied(POD_UPDATES, 'dataplane-mode-invalid'));
  });
});

describe('meshguard.io/decision is meshguard\'s to write', () => {
  it('a pod created with a forged decision gets meshguard\'s own', async () => {
    const pod = await core.createNamespacedPod({
      namespace: NS.open,
      body: simplePod(fresh('forged'), { annotations: { [DECISION]: 'ambient/pod-override' } }),
    });
    expect(pod.metadata?.annotations?.[DECISION]).toBe('ambient/namespace-default');
  });

  it('an update may not change or remove it', async () => {
    const name = fresh('web');
    await core.createNamespacedPod({ namespace: NS.open, body: simplePod(name) });
    expect(await rejection(relabel(NS.open, name, { annotations: { [DECISION]: 'none/pod-override' } }))).toMatch(denied(POD_UPDATES, 'decision-annotation-reserved'));
    expect(await rejection(relabel(NS.open, name, { annotations: { [DECISION]: null } }))).toMatch(denied(POD_UPDATES, 'decision-annotation-reserved'));
  });
});

describe('one webhook call for an ordinary pod (issue 10, goal 1)', () => {
  const calls = (labels: Record<string, string> = {}) => env.meshguard.metric('meshguard_admission_requests_total', labels);
  const POD_CREATE = { kind: 'Pod', operation: 'CREATE' };

  it('an ordinary pod is sent to meshguard once: the mutating call, no validating one', async () => {
    const before = { all: await calls(), mutate: await calls({ webhook: 'mutate', ...POD_CREATE }), validate: await calls({ webhook: 'validate', ...POD_CREATE }) };
    const pods = 20;
    for (let i = 0; i < pods; i++) {
      const pod = await core.createNamespacedPod({ namespace: NS.open, body: simplePod(fresh('plain')) });
      expect(pod.metadata?.annotations?.[DECISION]).toBe('ambient/namespace-default');
    }
    const after = { all: await calls(), mutate: await calls({ webhook: 'mutate', ...POD_CREATE }), validate: await calls({ webhook: 'validate', ...POD_CREATE }) };
    expect({ mutate: after.mutate - before.mutate, validate: after.validate - before.validate, all: after.all - before.all }).toEqual({ mutate: pods, validate: 0, all: pods });
  });

  it.each([
    ['istio.io/use-waypoint naming no Gateway', { labels: { 'istio.io/use-waypoint': 'nowhere' } }, 'waypoint-missing'],
    ['the removed annotation istio.io/for-service-account', { annotations: { 'istio.io/for-service-account': 'reviews' } }, 'removed-annotation'],
  ])('a pod with %s gets the pod checks in that one call', async (_name, extra, rule) => {
    const before = { mutate: await calls({ webhook: 'mutate', ...POD_CREATE }), validate: await calls({ webhook: 'validate', ...POD_CREATE }) };
    const message = await rejection(core.createNamespacedPod({ namespace: NS.open, body: simplePod(fresh('checked'), extra) }));
    expect(message).toMatch(denied(POD_MODE, rule));
    expect({ mutate: (await calls({ webhook: 'mutate', ...POD_CREATE })) - before.mutate, validate: (await calls({ webhook: 'validate', ...POD_CREATE })) - before.validate }).toEqual({ mutate: 1, validate: 0 });
  });

  it('a pod that opts out of waypoints (use-waypoint=none) is checked and admitted', async () => {
    const before = await calls({ webhook: 'mutate', ...POD_CREATE, result: 'patched' });
    const pod = await core.createNamespacedPod({ namespace: NS.open, body: simplePod(fresh('no-waypoint'), { labels: { 'istio.io/use-waypoint': 'none' } }) });
    expect(pod.metadata?.annotations?.[DECISION]).toBe('ambient/namespace-default');
    expect(await calls({ webhook: 'mutate', ...POD_CREATE, result: 'patched' })).toBe(before + 1);
  });

  it('a label a later mutating webhook adds is checked too: kube-apiserver calls meshguard again (reinvocationPolicy IfNeeded)', async () => {
    const ca = { cert: env.meshguard.caPem, key: readFileSync(join(env.meshguard.certDir, 'ca.key'), 'utf8') };
    const adder = await startLabelAdder(cp, ca, { 'e2e.meshguard.io/add-waypoint': 'yes' }, { 'istio.io/use-waypoint': 'nowhere' });
    try {
      const selected = () => simplePod(fresh('relabelled'), { labels: { 'e2e.meshguard.io/add-waypoint': 'yes' } });
      // The configuration takes effect through kube-apiserver's informer, a moment after it is applied.
      await eventually('the label adder to take effect', async () =>
        (await rejection(core.createNamespacedPod({ namespace: NS.open, body: selected(), dryRun: 'All' }))).includes('[waypoint-missing]'),
      );
      const before = await calls({ webhook: 'mutate', ...POD_CREATE });
      const message = await rejection(core.createNamespacedPod({ namespace: NS.open, body: selected() }));
      expect(message).toMatch(denied(POD_MODE, 'waypoint-missing'));
      expect(message).toContain('istio.io/use-waypoint="nowhere"');
      // Called first without the label, then again with it.
      expect((await calls({ webhook: 'mutate', ...POD_CREATE })) - before).toBe(2);
    } finally {
      await adder.close();
    }
  });
});
