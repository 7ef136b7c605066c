import { parseArgs } from 'node:util';
import { ManifestError } from '../cluster/from-files.js';
import { readClusterFiles, readLiveCluster, type ClusterRead } from '../cluster/read.js';
import { loadPolicyFile, PolicyError, withIstioVersion } from '../policy/load.js';
import { AUDIT_FORMATS, formatAudit, type AuditFormat } from './format.js';
import { auditCluster, type AuditReport } from './run.js';

const AUDIT_USAGE = `Usage: meshguard audit [--kubeconfig FILE | --cluster-state DIR] [--namespace NS]... [--policy FILE]
                       [--istio-version 1.N] [--format text|json|sarif] [--fail-on error|warning|never]

Evaluates every object already in a cluster (Pods, Namespaces, Services, ServiceEntries, Gateways,
GatewayClasses, AuthorizationPolicies, VirtualServices, DestinationRules, Sidecars) with the rules the
meshguard webhooks apply, as if it were created now, and reports pods running in another mode than
meshguard decides for them (pod-mode-drift, once per owning workload).

Options:
  --kubeconfig FILE     cluster to read (default: in-cluster, else $KUBECONFIG)
  --cluster-state DIR   read manifests instead (e.g. a kubectl get -o yaml dump); repeatable
  --namespace NS        only this namespace; repeatable (default: all)
  --policy FILE         policy file (default: the policy shipped with meshguard)
  --istio-version V     judge for this Istio version (1.22 to 1.31) instead of the policy's istioVersion
  --format FORMAT       text (default, grouped by namespace), json, or sarif (SARIF 2.1.0)
  --fail-on LEVEL       exit 1 on findings of this severity or worse: error (default), warning, never
  -h, --help            show this help

Exit status: 0 no findings at the --fail-on level, 1 such findings, 2 usage error or unreadable
input, 3 partial: some kinds could not be read (unreachable, forbidden, CRD missing; see the report).
`;

const FAIL_ON = ['error', 'warning', 'never'] as const;

export interface AuditIO {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
}

/** `meshguard audit ...`: returns the exit status. */
export async function runAudit(argv: string[], io: AuditIO = process): Promise<number> {
  const usageError = (message: string) => {
    io.stderr.write(`meshguard audit: ${message}\n\n${AUDIT_USAGE}`);
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
        'istio-version': { type: 'string' },
        format: { type: 'string', default: 'text' },
        'fail-on': { type: 'string', default: 'error' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    return usageError((err as Error).message);
  }
  if (values.help) {
    io.stdout.write(AUDIT_USAGE);
    return 0;
  }
  const format = values.format as AuditFormat;
  if (!AUDIT_FORMATS.includes(format)) return usageError(`--format must be one of ${AUDIT_FORMATS.join(', ')}, got "${values.format}"`);
  const failOn = values['fail-on'] as (typeof FAIL_ON)[number];
  if (!FAIL_ON.includes(failOn)) return usageError(`--fail-on must be one of ${FAIL_ON.join(', ')}, got "${values['fail-on']}"`);
  if (values.kubeconfig && values['cluster-state']) return usageError('--kubeconfig and --cluster-state exclude each other');

  let report: AuditReport;
  try {
    const policy = withIstioVersion(loadPolicyFile(values.policy), values['istio-version']);
    const read = await openCluster(values.kubeconfig, values['cluster-state'], values.namespace ?? []);
    if (typeof read === 'string') return usageError(read);
    report = await auditCluster(read, policy);
  } catch (err) {
    if (!(err instanceof ManifestError || err instanceof PolicyError || err instanceof KubeconfigError)) throw err;
    io.stderr.write(`meshguard audit: ${err.message}\n`);
    return 2;
  }
  io.stdout.write(formatAudit(report, format));
  if (!report.complete) return 3;
  const failing = failOn === 'never' ? 0 : failOn === 'warning' ? report.summary.errors + report.summary.warnings : report.summary.errors;
  return failing ? 1 : 0;
}

class KubeconfigError extends Error {}

async function openCluster(kubeconfig: string | undefined, dirs: string[] | undefined, namespaces: string[]): Promise<ClusterRead | string> {
  if (dirs) return readClusterFiles(dirs, { namespaces });
  // @kubernetes/client-node is loaded for live reads only.
  const { kubeConfig } = await import('../cluster/kubeconfig.js');
  let kc;
  try {
    kc = kubeConfig(kubeconfig);
  } catch (err) {
    throw new KubeconfigError(`cannot load kubeconfig ${kubeconfig ?? '$KUBECONFIG'}: ${(err as Error).message}`);
  }
  if (!kc) return 'no cluster to read: give --kubeconfig FILE (or set $KUBECONFIG), or --cluster-state DIR';
  return readLiveCluster(kc, { namespaces });
}
