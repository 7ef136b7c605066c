// meshguard's webhook configurations for the e2e suite, taken from the Helm chart as `helm template`
// renders them (names, rules, selectors, matchConditions, failure policies and timeouts as shipped),
// with only clientConfig switched from the in-cluster Service to meshguard's loopback URL.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { PatchStrategy, type KubernetesObject } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { clients, eventually, type ControlPlaneInfo } from './control-plane.js';

export const CHART = fileURLToPath(new URL('../../charts/meshguard', import.meta.url));
/** The release as the README installs it. */
export const RELEASE = 'meshguard';
export const RELEASE_NAMESPACE = 'meshguard';
export const FIELD_MANAGER = 'meshguard-e2e';

export type Rendered = KubernetesObject & Record<string, any>;

/** `helm template` of the chart with the built helm: every object, as parsed YAML. */
export function renderChart(helm: string, set: Record<string, string> = {}): Rendered[] {
  const args = ['template', RELEASE, CHART, '--namespace', RELEASE_NAMESPACE];
  for (const [key, value] of Object.entries(set)) args.push('--set', `${key}=${value}`);
  const run = spawnSync(helm, args, { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
  if (run.error) throw run.error;
  if (run.status !== 0) throw new Error(`helm ${args.join(' ')} failed:\n${run.stderr}`);
  return parseAllDocuments(run.stdout)
    .map((d) => d.toJS())
    .filter((o): o is Rendered => o !== null && typeof o === 'object');
}

/**
 * The chart's Mutating- and ValidatingWebhookConfiguration, each webhook's clientConfig replaced by
 * `url: <meshguardUrl><path>` and the run's CA. Everything else is the chart's.
 */
export function webhookConfigurations(helm: string, meshguardUrl: string, caPem: string, set: Record<string, string> = {}): Rendered[] {
  const configs = renderChart(helm, set).filter((o) => o.kind === 'MutatingWebhookConfiguration' || o.kind === 'ValidatingWebhookConfiguration');
  if (configs.length !== 2) throw new Error(`the chart rendered ${configs.length} webhook configurations, expected 2`);
  const caBundle = Buffer.from(caPem).toString('base64');
  for (const config of configs) {
    for (const w of config.webhooks) {
      const path = w.clientConfig?.service?.path;
      if (typeof path !== 'string') throw new Error(`webhook ${w.name} has no clientConfig.service.path`);
      w.clientConfig = { url: `${meshguardUrl}${path}`, caBundle };
    }
  }
  return configs;
}

/** Server-side apply (force) of objects; the API server defaults and validates them as on `kubectl apply --server-side`. */
export async function apply(cp: ControlPlaneInfo, objects: Rendered[], opts: { dryRun?: boolean } = {}): Promise<Rendered[]> {
  const { objects: api } = clients(cp);
  const out: Rendered[] = [];
  for (const o of objects) {
    out.push(await api.patch<Rendered>(o, undefined, opts.dryRun ? 'All' : undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply));
  }
  return out;
}

/** Installs meshguard's webhooks (from the chart) pointing at `meshguardUrl`. */
export async function installWebhooks(cp: ControlPlaneInfo, meshguardUrl: string, caPem: string, set: Record<string, string> = {}) {
  const configs = webhookConfigurations(cp.helm, meshguardUrl, caPem, set);
  await apply(cp, configs);
  return configs;
}

/** Removes meshguard's webhook configurations (whatever the chart names them), waiting until they are gone. */
export async function removeWebhooks(cp: ControlPlaneInfo, configs: Rendered[]) {
  const { objects: api } = clients(cp);
  for (const c of configs) {
    await api.delete({ apiVersion: c.apiVersion, kind: c.kind, metadata: { name: c.metadata!.name } }).catch((err: { code?: number }) => {
      if (err.code !== 404) throw err;
    });
  }
  for (const c of configs) {
    await eventually(`${c.kind} ${c.metadata!.name} deleted`, async () =>
      api.read({ apiVersion: c.apiVersion!, kind: c.kind!, metadata: { name: c.metadata!.name! } }).then(
        () => false,
        (err: { code?: number }) => err.code === 404,
      ),
    );
  }
}
