// The cluster audit: every object a reader hands over, evaluated against the reader's snapshot,
// collected into one report. Used by `meshguard audit` and by the background audit in `serve`.
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { FindingResult } from '../admission/outcome.js';
import { lineOf } from '../check/field-path.js';
import type { ClusterRead, ReadError, ReadObject } from '../cluster/read.js';
import { apiVersionOf } from '../cluster/resources.js';
import { nameOf, namespaceOf } from '../kube.js';
import type { Mode, Policy, Severity } from '../policy/types.js';
import type { RuleId } from '../rules.js';
import { evaluateObject, type JudgedFinding } from './evaluate.js';

/** One finding about one object (or, for pod-mode-drift, about the workload that owns the pods). */
export interface AuditFinding {
  rule: RuleId;
  severity: Severity;
  /** What the webhook would do with it on a CREATE now: deny, warn, or only log (enforcement audit). */
  result: FindingResult;
  apiVersion: string;
  kind: string;
  /** null for cluster-scoped objects. */
  namespace: string | null;
  name: string;
  /** The object's uid (for pod-mode-drift, the owner's when known); absent in file mode. */
  uid?: string;
  /** Field path in the object, as in admission messages. */
  path: string;
  message: string;
  /** pod-mode-drift only: the owner's pods in the wrong mode, by name (sorted). */
  pods?: { count: number; names: string[] };
  /** File mode only: where the object is. */
  file?: string;
  line?: number;
}

export type ModeCounts = Record<Mode, number>;

export interface AuditReport {
  /** Where the objects came from. */
  source: string;
  /** false when some kinds could not be read (see readErrors): the findings cover the rest. */
  complete: boolean;
  readErrors: ReadError[];
  findings: AuditFinding[];
  /**
   * Namespaces with at least one object judged (read and not skipped), sorted: the namespaces a
   * report object is written for, with or without findings.
   */
  namespaces: string[];
  summary: {
    /** Objects read, by kind (`Gateway.networking.istio.io` for kinds that share a name). */
    objects: Record<string, number>;
    errors: number;
    warnings: number;
    /** Objects not judged because their namespace (or they) say meshguard.io/enforcement=off. */
    skipped: number;
    /** Pods judged, by the mode they run in and by the mode meshguard decides now. */
    pods: { actual: ModeCounts; decided: ModeCounts };
  };
}

export interface AuditOptions {
  /**
   * Milliseconds of evaluation between two event-loop turns, so a server keeps answering while it
   * audits: a request that arrives mid-audit waits at most about this long (plus any GC pause).
   */
  sliceMs?: number;
}

/**
 * A time budget rather than a count of objects: objects differ in cost (a pod with many findings, a
 * policy with many rules), and on a loaded machine a fixed count of 200 pods took 5 ms of CPU, tens
 * of ms of wall time, which /mutate requests queued behind (bench/results/README.md, the background
 * audit at 20,000 pods).
 */
const SLICE_MS = 2;

export async function auditCluster(read: ClusterRead, policy: Policy, o: AuditOptions = {}): Promise<AuditReport> {
  const sliceMs = o.sliceMs ?? SLICE_MS;
  const findings: AuditFinding[] = [];
  const drifts = new Map<string, AuditFinding>();
  const objects: Record<string, number> = {};
  const zero = (): ModeCounts => ({ ambient: 0, sidecar: 0, none: 0 });
  const pods = { actual: zero(), decided: zero() };
  let skipped = 0;
  const judged = new Set<string>();
  let sliceStart = performance.now();

  for await (const page of read.objects()) {
    for (const item of page) {
      const key = item.resource.group && item.resource.kind === 'Gateway' ? `Gateway.${item.resource.group}` : item.resource.kind;
      objects[key] = (objects[key] ?? 0) + 1;
      const evaluation = evaluateObject(item.object, item.resource, read.snapshot, policy);
      if (evaluation.enforcement === 'off') skipped++;
      else if (item.resource.namespaced) judged.add(namespaceOf(item.object) ?? 'default');
      for (const f of evaluation.findings) findings.push(entry(item, f));
      const pod = evaluation.pod;
      if (pod) {
        pods.actual[pod.actual.mode]++;
        pods.decided[pod.decided.mode]++;
        if (pod.drift) {
          // One entry per owner, not per pod: the fix (a restart) is per owner.
          const ownerKey = `${namespaceOf(item.object)}/${pod.owner.kind}/${pod.owner.name}`;
          let drift = drifts.get(ownerKey);
          if (!drift) {
            drift = { ...entry(item, pod.drift), apiVersion: pod.owner.apiVersion, kind: pod.owner.kind, name: pod.owner.name, pods: { count: 0, names: [] } };
            // The finding is about the owner: the pod's uid would name the wrong object.
            if (pod.owner.uid) drift.uid = pod.owner.uid;
            else delete drift.uid;
            drifts.set(ownerKey, drift);
          }
          drift.pods!.count++;
          drift.pods!.names.push(nameOf(item.object) ?? '');
        }
      }
      if (performance.now() - sliceStart >= sliceMs) {
        await nextTurn();
        sliceStart = performance.now();
      }
    }
  }
  for (const d of drifts.values()) {
    d.pods!.names.sort();
    findings.push(d);
  }
  findings.sort(compareFindings);
  return {
    source: read.description,
    complete: read.errors.length === 0,
    readErrors: [...read.errors],
    findings,
    namespaces: [...judged].sort(),
    summary: {
      objects,
      errors: findings.filter((f) => f.severity === 'error').length,
      warnings: findings.filter((f) => f.severity === 'warning').length,
      skipped,
      pods,
    },
  };
}

function entry(item: ReadObject, f: JudgedFinding): AuditFinding {
  const { object, resource, origin } = item;
  const out: AuditFinding = {
    rule: f.rule,
    severity: f.severity,
    result: f.result,
    apiVersion: typeof object.apiVersion === 'string' ? object.apiVersion : apiVersionOf(resource),
    kind: resource.kind,
    namespace: resource.namespaced ? (namespaceOf(object) ?? 'default') : null,
    name: nameOf(object) ?? '',
    path: f.path,
    message: f.message,
  };
  if (object.metadata?.uid) out.uid = object.metadata.uid;
  if (origin) {
    out.file = origin.file;
    out.line = lineOf(origin, f.path);
  }
  return out;
}

const text = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Cluster-scoped first, then by namespace, kind, name, rule and path: stable output for diffs. */
export function compareFindings(a: AuditFinding, b: AuditFinding): number {
  if ((a.namespace === null) !== (b.namespace === null)) return a.namespace === null ? -1 : 1;
  return (
    text(a.namespace ?? '', b.namespace ?? '') ||
    text(a.kind, b.kind) ||
    text(a.name, b.name) ||
    text(a.rule, b.rule) ||
    text(a.path, b.path)
  );
}
