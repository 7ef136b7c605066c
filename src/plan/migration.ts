// The migration of one namespace as manifests and ordered steps. Pure: a NamespacePlan in, objects
// and kubectl commands out. The order keeps every DENY denying at every step (see MigrationStep.why).
import type { ClusterSnapshot } from '../cluster/snapshot.js';
import type { KubeObject } from '../kube.js';
import { annotationsOf, isRecord, labelsOf } from '../kube.js';
import { ISTIO, WAYPOINT_CLASS } from '../labels.js';
import { MESH_LISTENER } from '../validate/waypoint-gateway.js';
import { workloadSelectorOf } from './inventory.js';
import { MIGRATED_FROM } from './types.js';
import type { NamespacePlan, Rewrite } from './verdict.js';

export interface MigrationStep {
  title: string;
  /** Why this step comes here, and what holds while it is in progress. */
  why: string;
  commands: string[];
  /** The objects the step applies (also in Migration.manifests). */
  objects: KubeObject[];
}

export interface Migration {
  manifests: KubeObject[];
  steps: MigrationStep[];
}

export interface MigrationOptions {
  /** The mesh's trust domain (meshConfig.trustDomain), for the waypoint's principal. */
  trustDomain: string;
}

/** istiod names the waypoint's ServiceAccount after the Gateway unless this annotation says otherwise (gatewaycommon/deploymentcontroller.go). */
const SERVICE_ACCOUNT_ANNOTATION = 'gateway.istio.io/service-account';

const RESTARTABLE = new Set(['Deployment', 'StatefulSet', 'DaemonSet']);

/**
 * The waypoint Gateway as `istioctl waypoint generate` writes it (istioctl/pkg/waypoint/waypoint.go):
 * class istio-waypoint, the HBONE listener on 15008, for service traffic.
 */
export function waypointGateway(namespace: string, name: string): KubeObject {
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'Gateway',
    metadata: { name, namespace, labels: { [ISTIO.waypointFor]: 'service' } },
    spec: { gatewayClassName: WAYPOINT_CLASS, listeners: [{ ...MESH_LISTENER }] },
  };
}

/**
 * The identity the waypoint's pods present: its ServiceAccount is named after the Gateway (istiod's
 * waypoint class sets DisableNameSuffix: pilot/pkg/config/kube/gatewaycommon/classinfo.go, and
 * deploymentcontroller.go takes gateway.istio.io/service-account when set).
 */
export function waypointPrincipal(snapshot: ClusterSnapshot, namespace: string, name: string, trustDomain: string): string {
  const sa = annotationsOf(snapshot.gateway(namespace, name))[SERVICE_ACCOUNT_ANNOTATION] ?? name;
  return `${trustDomain}/ns/${namespace}/sa/${sa}`;
}

const API_VERSIONS: Record<string, string> = {
  AuthorizationPolicy: 'security.istio.io/v1',
  RequestAuthentication: 'security.istio.io/v1',
  Telemetry: 'telemetry.istio.io/v1',
  WasmPlugin: 'extensions.istio.io/v1alpha1',
};

/** The rewrite of a selector-bound object: the same spec, every rule kept, bound with targetRefs instead. */
export function retargeted(rewrite: Rewrite, namespace: string): KubeObject {
  const spec = { ...(isRecord(rewrite.object.spec) ? rewrite.object.spec : {}) };
  delete spec.selector;
  delete spec.targetRef;
  return {
    apiVersion: API_VERSIONS[rewrite.kind],
    kind: rewrite.kind,
    metadata: {
      name: `${rewrite.name}-waypoint`,
      namespace,
      ...(Object.keys(labelsOf(rewrite.object)).length > 0 && { labels: labelsOf(rewrite.object) }),
      annotations: { [MIGRATED_FROM]: rewrite.name },
    },
    spec: { targetRefs: rewrite.targets.map((t) => ({ kind: t.kind, group: t.group, name: t.name })), ...spec },
  };
}

/** The ztunnel policy that admits only the waypoint to the workloads a moved policy selected. */
function viaWaypoint(name: string, namespace: string, selector: Record<string, unknown> | undefined, principal: string): KubeObject {
  return {
    apiVersion: 'security.istio.io/v1',
    kind: 'AuthorizationPolicy',
    metadata: { name: `${name}-via-waypoint`, namespace, annotations: { [MIGRATED_FROM]: name } },
    spec: {
      ...(selector && { selector: { matchLabels: selector } }),
      action: 'ALLOW',
      rules: [{ from: [{ source: { principals: [principal] } }] }],
    },
  };
}

export function migrationFor(plan: NamespacePlan, snapshot: ClusterSnapshot, opts: MigrationOptions): Migration | undefined {
  if (plan.verdict !== 'ready' && plan.verdict !== 'needs-waypoint') return undefined;
  const ns = plan.namespace;
  const steps: MigrationStep[] = [];
  const manifests: KubeObject[] = [];
  const yamlStep = (title: string, why: string, objects: KubeObject[], extra: string[] = []) => {
    if (!objects.length && !extra.length) return;
    manifests.push(...objects);
    steps.push({ title, why, commands: [...(objects.length ? ['kubectl apply -f - (the objects below)'] : []), ...extra], objects });
  };

  const wp = plan.waypoint;
  if (wp && !wp.exists)
    yamlStep('Create the waypoint',
      'Nothing uses it yet, so nothing changes; istiod deploys it, and it must be Programmed before any traffic is sent to it.',
      [waypointGateway(ns, wp.name)],
      [`kubectl wait --for=condition=Programmed gateway/${wp.name} -n ${ns} --timeout=5m`]);

  const principal = wp ? waypointPrincipal(snapshot, ns, wp.name, opts.trustDomain) : '';
  yamlStep('Apply the policies rewritten for the waypoint',
    'New objects beside the originals: the waypoint carries no traffic yet, and the sidecars keep enforcing the originals.',
    plan.rewrites.filter((r) => !r.done).map((r) => retargeted(r, ns)));

  // One via-waypoint policy per selector among the moved AuthorizationPolicies.
  const bySelector = new Map<string, { name: string; selector?: Record<string, unknown>; hasAllow: boolean }>();
  for (const r of plan.rewrites) {
    if (r.kind !== 'AuthorizationPolicy' || r.done) continue;
    const selector = workloadSelectorOf(r.object);
    const key = JSON.stringify(selector ?? null);
    const allow = (isRecord(r.object.spec) ? r.object.spec.action ?? 'ALLOW' : 'ALLOW') === 'ALLOW';
    const seen = bySelector.get(key);
    if (seen) seen.hasAllow ||= allow;
    else bySelector.set(key, { name: r.name, selector, hasAllow: allow });
  }
  const companions = [...bySelector.values()];
  yamlStep('Admit the waypoint where an ALLOW policy already applies',
    'Adds only the waypoint\'s identity to workloads that already have an allow-list; the waypoint carries no traffic yet, so nothing else is admitted.',
    companions.filter((c) => c.hasAllow).map((c) => viaWaypoint(c.name, ns, c.selector, principal)));

  const before = labelsOf(snapshot.namespace(ns));
  const after = plan.labelsAfter ?? before;
  const set = Object.entries(after).filter(([k, v]) => before[k] !== v).map(([k, v]) => `${k}=${v}`);
  const removed = Object.keys(before).filter((k) => !(k in after)).map((k) => `${k}-`);
  if (set.length || removed.length) {
    manifests.push({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels: after } });
    steps.push({
      title: 'Label the namespace',
      why: wp
        ? 'From here Services send their traffic through the waypoint, which enforces every rewritten rule with the client\'s identity; the sidecars still enforce the originals on what they receive, and new pods start in ambient.'
        : 'New pods start in ambient; running pods keep their sidecars until restarted, and istio-cni never captures a pod that has one.',
      commands: [`kubectl label namespace ${ns} ${[...set, ...removed].join(' ')} --overwrite`],
      objects: [],
    });
  }

  yamlStep('Admit only the waypoint where only DENY policies moved',
    'Service traffic now comes through the waypoint, so this adds no denial for it, and it stops requests addressed straight to pods from skipping the waypoint\'s DENY rules.',
    companions.filter((c) => !c.hasAllow).map((c) => viaWaypoint(c.name, ns, c.selector, principal)));

  const restarts = plan.moving.map((w) =>
    RESTARTABLE.has(w.kind)
      ? `kubectl rollout restart ${w.kind.toLowerCase()}/${w.name} -n ${ns}   # ${w.pods} pod${w.pods === 1 ? '' : 's'}`
      : w.kind === 'Pod'
        ? `# Pod ${w.name} has no owner: delete and re-create it from its manifest`
        : `# ${w.kind} ${w.name}: its next pods start in ambient (${w.pods} running now keep their sidecar until they finish)`,
  );
  steps.push({
    title: 'Restart the workloads',
    why: 'Each restarted pod comes back without a sidecar, in ambient; until then its sidecar keeps enforcing the original policies.',
    commands: restarts,
    objects: [],
  });

  if (plan.rewrites.length)
    steps.push({
      title: 'Delete the original policies',
      why: 'Once every pod has moved, ztunnel keeps only their L4 parts, and those now see the waypoint\'s identity: the rewritten and via-waypoint policies do the work.',
      commands: plan.rewrites.map((r) => `kubectl delete ${r.kind.toLowerCase()} ${r.name} -n ${ns}`),
      objects: [],
    });
  return { manifests, steps };
}

