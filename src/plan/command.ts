// `meshguard plan`: reads the cluster with the shared reader, plans, and writes the report. The
// only I/O of the plan lives here.
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ManifestError } from '../cluster/from-files.js';
import { kubeConfig } from '../cluster/kubeconfig.js';
import { readClusterFiles, readLiveCluster, type ClusterRead } from '../cluster/read.js';
import type { KubeObject } from '../kube.js';
import { loadPolicyFile, PolicyError } from '../policy/load.js';
import { formatPlanHtml } from './format-html.js';
import { formatPlanText } from './format-text.js';
import { PLAN_RESOURCES, trimForPlan } from './inventory.js';
import { buildPlanReport, type PlanReport } from './report.js';
import { DEFAULT_PRICES } from './savings.js';

export const PLAN_FORMATS = ['text', 'json', 'html'] as const;
type PlanFormat = (typeof PLAN_FORMATS)[number];

const PLAN_USAGE = `Usage: meshguard plan [--kubeconfig FILE | --cluster-state PATH...] [--namespace NS]... [--policy FILE]
                      [--format text|json|html] [--out FILE]
                      [--cpu-cost-per-core-hour USD] [--memory-cost-per-gib-hour USD] [--trust-domain DOMAIN]

Plans the move of each namespace from sidecars to ambient: a verdict per namespace with its reasons,
the manifests and ordered steps that make it ready, and what it saves in resource requests.

Options:
  --kubeconfig FILE              read a live cluster (paged LISTs); without it and without
                                 --cluster-state: in-cluster config, else $KUBECONFIG
  --cluster-state PATH           read manifests (a file or a directory; may be repeated)
  --namespace NS                 plan only this namespace (may be repeated)
  --policy FILE                  policy file (default: the policy shipped with meshguard)
  --format FORMAT                text (default), json, or html (one self-contained page with charts)
  --out FILE                     write the report to FILE instead of stdout
  --cpu-cost-per-core-hour USD   default ${DEFAULT_PRICES.cpuPerCoreHour} (GCE e2 on-demand, us-central1)
  --memory-cost-per-gib-hour USD default ${DEFAULT_PRICES.memoryPerGiBHour} (GCE e2 on-demand, us-central1)
  --trust-domain DOMAIN          the mesh's trust domain, for the waypoint's principal (default cluster.local)
  -h, --help                     show this help

Exit status: 0 planned, 1 planned from a partial read (some kinds could not be read), 2 usage error
or unreadable input.
`;

export interface PlanIO {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
}

class UsageError extends Error {}

function price(value: string | undefined, fallback: number, flag: string): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) throw new UsageError(`${flag} must be a non-negative number, got "${value}"`);
  return n;
}

/** `meshguard plan ...`: returns the exit status. */
export async function runPlan(argv: string[], io: PlanIO = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const usageError = (message: string) => {
    io.stderr.write(`meshguard plan: ${message}\n\n${PLAN_USAGE}`);
    return 2;
  };
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        kubeconfig: { type: 'string' },
        'cluster-state': { type: 'string', multiple: true },
        namespace: { type: 'string', multiple: true },
        policy: { type: 'string' },
        format: { type: 'string', default: 'text' },
        out: { type: 'string' },
        'cpu-cost-per-core-hour': { type: 'string' },
        'memory-cost-per-gib-hour': { type: 'string' },
        'trust-domain': { type: 'string', default: 'cluster.local' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    return usageError((err as Error).message);
  }
  if (values.help) {
    io.stdout.write(PLAN_USAGE);
    return 0;
  }
  const format = values.format as PlanFormat;
  let prices;
  try {
    if (!PLAN_FORMATS.includes(format)) throw new UsageError(`--format must be one of ${PLAN_FORMATS.join(', ')}, got "${values.format}"`);
    if (values.kubeconfig && values['cluster-state']) throw new UsageError('give --kubeconfig or --cluster-state, not both');
    prices = {
      cpuPerCoreHour: price(values['cpu-cost-per-core-hour'], DEFAULT_PRICES.cpuPerCoreHour, '--cpu-cost-per-core-hour'),
      memoryPerGiBHour: price(values['memory-cost-per-gib-hour'], DEFAULT_PRICES.memoryPerGiBHour, '--memory-cost-per-gib-hour'),
    };
  } catch (err) {
    if (err instanceof UsageError) return usageError(err.message);
    throw err;
  }

  let report: PlanReport;
  try {
    const policy = loadPolicyFile(values.policy);
    const namespaces = values.namespace ?? [];
    // With --namespace, the root namespace (mesh-wide policies) and ztunnel's namespace are read too.
    const readNamespaces = namespaces.length ? [...new Set([...namespaces, policy.rootNamespace, 'istio-system'])] : [];
    const options = { namespaces: readNamespaces, resources: PLAN_RESOURCES };
    let read: ClusterRead;
    if (values['cluster-state']) read = readClusterFiles(values['cluster-state'], options);
    else {
      const kc = kubeConfig(values.kubeconfig);
      if (!kc) return usageError('no cluster: give --kubeconfig FILE or --cluster-state PATH (or set KUBECONFIG)');
      read = await readLiveCluster(kc, options);
    }
    const objects: KubeObject[] = [];
    for await (const page of read.objects()) for (const { object } of page) objects.push(trimForPlan(object));
    report = buildPlanReport({ snapshot: read.snapshot, objects, ...(namespaces.length && { namespaces }) }, policy, {
      prices,
      trustDomain: values['trust-domain'],
      source: read.description,
      readErrors: read.errors.map((e) => ({ resource: e.resource, reason: e.reason, message: e.message })),
    });
  } catch (err) {
    if (!(err instanceof ManifestError || err instanceof PolicyError)) throw err;
    io.stderr.write(`meshguard plan: ${err.message}\n`);
    return 2;
  }

  const text = format === 'json' ? `${JSON.stringify(report, null, 2)}\n` : format === 'html' ? formatPlanHtml(report) : formatPlanText(report);
  if (values.out) {
    try {
      writeFileSync(values.out, text);
    } catch (err) {
      io.stderr.write(`meshguard plan: cannot write ${values.out}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}\n`);
      return 2;
    }
  } else io.stdout.write(text);
  return report.readErrors.length ? 1 : 0;
}
