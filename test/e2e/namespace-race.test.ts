// A pod created right after its namespace, through a real kube-apiserver: meshguard's Namespace
// informer may not have seen the namespace yet when the pod's admission arrives (kube-apiserver
// itself looks the namespace up for the webhook's namespaceSelector with a live GET on a miss). The
// pod must be decided by the namespace's real labels, never by the cluster defaults.
//
// On loopback the watch event reaches meshguard within a millisecond, before the pod's admission, so
// meshguard talks to kube-apiserver through a link that delivers everything 200 ms late, as in a
// busy cluster: every pod here is admitted before meshguard's informer has seen its namespace.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { clients } from './control-plane.js';
import { createNamespace, DECISION, meshguardWithWebhooks, simplePod } from './meshguard-process.js';
import { startSlowLink, type SlowLink } from './slow-link.js';

const cp = inject('controlPlane');
const { core, raw } = clients(cp);
const ROUNDS = 15;
const run = Math.random().toString(36).slice(2, 7);

const WATCH_LAG_MS = 200;

let link: SlowLink;
let env: Awaited<ReturnType<typeof meshguardWithWebhooks>>;
beforeAll(async () => {
  link = await startSlowLink(cp.apiPort, WATCH_LAG_MS);
  const kubeconfig = join(cp.dir, 'kubeconfig-slow-link');
  writeFileSync(kubeconfig, readFileSync(cp.kubeconfig, 'utf8').replace(`https://127.0.0.1:${cp.apiPort}`, `https://127.0.0.1:${link.port}`), { mode: 0o600 });
  env = await meshguardWithWebhooks(cp, {}, { kubeconfig });
});
afterAll(async () => {
  await env?.close();
  await link?.close();
});

/** Creates a namespace with `labels` and, as soon as that returns, a pod in it; the pod's decision. */
async function podRightAfterNamespace(name: string, labels: Record<string, string>) {
  await createNamespace(cp, name, labels);
  const pod = await core.createNamespacedPod({ namespace: name, body: simplePod('first') });
  return { decision: pod.metadata?.annotations?.[DECISION], labels: pod.metadata?.labels };
}

/** meshguard's count of namespaces it had to fetch because its cache had not seen them yet. */
const fetched = () => env.meshguard.metric('meshguard_namespace_lookups_total', { result: 'fetched' });

describe('13. a pod created right after its namespace', () => {
  it('in an audit namespace is never patched (the cluster default would be enforce)', async () => {
    const before = await fetched();
    const wrong: string[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const name = `race-audit-${run}-${i}`;
      const got = await podRightAfterNamespace(name, { 'meshguard.io/enforcement': 'audit', 'istio.io/dataplane-mode': 'ambient' });
      if (got.decision !== undefined || got.labels !== undefined) wrong.push(`${name}: ${JSON.stringify(got)}`);
    }
    expect(wrong).toEqual([]);
    // Decided with the fetched Namespace (the mutating and the validating webhook fetch it each; an
    // audit namespace leaves no trace on the pod, so this is what shows it was decided, not skipped).
    expect(await fetched()).toBeGreaterThanOrEqual(before + ROUNDS);
  });

  it('in an istio-injection=enabled namespace gets sidecar mode (the cluster default would be ambient)', async () => {
    const wrong: string[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const name = `race-sidecar-${run}-${i}`;
      const got = await podRightAfterNamespace(name, { 'meshguard.io/enforcement': 'enforce', 'istio-injection': 'enabled' });
      if (got.decision !== 'sidecar/namespace-default') wrong.push(`${name}: ${JSON.stringify(got)}`);
    }
    expect(wrong).toEqual([]);
  });

  it('validation too: an L7 selector policy in a warn namespace is admitted with a warning (the cluster default would deny it)', async () => {
    const wrong: string[] = [];
    for (let i = 0; i < 5; i++) {
      const name = `race-warn-${run}-${i}`;
      await createNamespace(cp, name, { 'meshguard.io/enforcement': 'warn', 'istio.io/dataplane-mode': 'ambient' });
      const res = await raw('POST', `/apis/security.istio.io/v1/namespaces/${name}/authorizationpolicies`, {
        apiVersion: 'security.istio.io/v1',
        kind: 'AuthorizationPolicy',
        metadata: { name: 'no-deletes' },
        spec: { selector: { matchLabels: { app: 'api' } }, action: 'DENY', rules: [{ to: [{ operation: { methods: ['DELETE'] } }] }] },
      });
      if (res.status !== 201 || !res.warnings.some((w) => w.startsWith('[authz-l7-needs-waypoint] '))) wrong.push(`${name}: ${res.status} ${JSON.stringify(res.warnings)} ${res.body?.message ?? ''}`);
    }
    expect(wrong).toEqual([]);
  });
});
