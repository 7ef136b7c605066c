// What the chart's failure policies do when meshguard is down, and that rotating meshguard's serving
// certificate under load loses no admission request; all through a real kube-apiserver.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { clients, eventually, rejection, sleep } from './control-plane.js';
import { createNamespace, DECISION, meshguardWithWebhooks, simplePod } from './meshguard-process.js';

const cp = inject('controlPlane');
const { core, custom } = clients(cp);
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const NS = { ambient: 'fail-ambient', rotation: 'fail-rotation', escape: 'fail-escape' } as const;

/** kube-apiserver's message when it could not reach a webhook (failurePolicy Fail). */
const unreachable = (webhook: string) => new RegExp(`failed calling webhook "${webhook.replace(/\./g, '\\.')}": failed to call webhook`);

let env: Awaited<ReturnType<typeof meshguardWithWebhooks>>;
beforeAll(async () => {
  env = await meshguardWithWebhooks(cp);
  await createNamespace(cp, NS.ambient, { 'meshguard.io/enforcement': 'enforce', 'istio.io/dataplane-mode': 'ambient' });
  await createNamespace(cp, NS.rotation, { 'meshguard.io/enforcement': 'enforce', 'istio.io/dataplane-mode': 'ambient' });
  await createNamespace(cp, NS.escape, { 'meshguard.io/enforcement': 'enforce' });
});
afterAll(async () => {
  await env?.close();
});

describe('8. meshguard down: the failure policies from the chart', () => {
  beforeAll(async () => {
    await env.meshguard.stop();
  });

  it('pods are still created, without meshguard labels (pod-mode and pod validation fail open: Ignore)', async () => {
    const pod = await core.createNamespacedPod({ namespace: NS.ambient, body: simplePod('while-down') });
    expect(pod.metadata?.labels).toBeUndefined();
    expect(pod.metadata?.annotations).toBeUndefined();
  });

  it('Istio and Gateway API objects, Services and Namespace labels are refused (validation fails closed: Fail)', async () => {
    const vs = {
      apiVersion: 'networking.istio.io/v1',
      kind: 'VirtualService',
      metadata: { name: 'while-down' },
      spec: { hosts: ['reviews'], http: [{ route: [{ destination: { host: 'reviews' } }] }] },
    };
    const vsError = await rejection(custom.createNamespacedCustomObject({ group: 'networking.istio.io', version: 'v1', namespace: NS.ambient, plural: 'virtualservices', body: vs }));
    expect(vsError).toMatch(unreachable('validate.meshguard.io'));

    const svc = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'while-down' }, spec: { ports: [{ port: 80 }] } };
    expect(await rejection(core.createNamespacedService({ namespace: NS.ambient, body: svc }))).toMatch(unreachable('services.validate.meshguard.io'));

    const relabel = core.patchNamespace({ name: NS.ambient, body: { metadata: { labels: { 'istio.io/use-waypoint': 'waypoint' } } } }, mergePatch);
    expect(await rejection(relabel)).toMatch(unreachable('namespaces.validate.meshguard.io'));
  });

  it('opting a namespace out (meshguard.io/enforcement=off) still works, so users are never stuck', async () => {
    const optOut = await core.patchNamespace({ name: NS.escape, body: { metadata: { labels: { 'meshguard.io/enforcement': 'off' } } } }, mergePatch);
    expect(optOut.metadata?.labels?.['meshguard.io/enforcement']).toBe('off');
  });

  it('after a restart, pods are labelled and validation answers again', async () => {
    // restart() returns once /readyz passes: caches synced, answering.
    await env.meshguard.restart();
    const pod = await core.createNamespacedPod({ namespace: NS.ambient, body: simplePod('after-restart') });
    expect(pod.metadata?.annotations?.[DECISION]).toBe('ambient/namespace-default');
    const svc = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'after-restart' }, spec: { ports: [{ port: 80 }] } };
    await expect(core.createNamespacedService({ namespace: NS.ambient, body: svc })).resolves.toBeDefined();
  });
});

describe('9. rotating the serving certificate under load', () => {
  it('loses no request: every pod created during two rotations is admitted and patched', async () => {
    const before = await env.meshguard.servingFingerprint();
    const problems: string[] = [];
    let created = 0;
    let n = 0;
    let running = true;
    // Bursts of 1 to 8 concurrent creates: beyond the connections kube-apiserver keeps alive to
    // meshguard, a burst makes it open new ones, which handshake with whatever certificate is
    // being served at that moment.
    const load = (async () => {
      for (let burst = 1; running; burst = (burst % 8) + 1) {
        await Promise.all(
          Array.from({ length: burst }, async () => {
            const name = `rot-${++n}`;
            try {
              const pod = await core.createNamespacedPod({ namespace: NS.rotation, body: simplePod(name) });
              created++;
              if (pod.metadata?.annotations?.[DECISION] !== 'ambient/namespace-default') problems.push(`${name}: not patched (${JSON.stringify(pod.metadata?.annotations ?? {})})`);
            } catch (err) {
              problems.push(`${name}: ${(err as Error).message}`);
            }
          }),
        );
      }
    })();

    const fingerprints = [before];
    for (let i = 0; i < 2; i++) {
      await sleep(1_500);
      await env.meshguard.rotate();
      const next = await eventually('meshguard to serve the new certificate', async () => {
        const f = await env.meshguard.servingFingerprint();
        return f !== fingerprints.at(-1) ? f : undefined;
      }, 20_000, 100);
      fingerprints.push(next);
    }
    await sleep(1_500);
    running = false;
    await load;

    expect(new Set(fingerprints).size).toBe(3);
    expect(problems).toEqual([]);
    expect(created).toBeGreaterThan(30);
    // meshguard's log is written asynchronously: give the lines a moment.
    const reloads = () => readFileSync(env.meshguard.logFile, 'utf8').split('\n').filter((l) => l.includes('serving certificate reloaded')).length;
    await eventually('two reloads in the log', () => Promise.resolve(reloads() >= 2), 5_000);
    expect(reloads()).toBe(2);
    // kube-apiserver reached meshguard with the rotated certificate: pods after the last rotation were patched too.
    const last = await core.readNamespacedPod({ namespace: NS.rotation, name: `rot-${n}` });
    expect(last.metadata?.annotations?.[DECISION]).toBe('ambient/namespace-default');
  });
});
