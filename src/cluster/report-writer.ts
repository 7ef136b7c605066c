// Writes the background audit's report objects (src/cluster-audit/report-objects.ts) to the API
// server. Stateless between runs: each run lists meshguard's reports (metadata only, by label), then
// server-side applies those whose content hash (an annotation) differs from the desired one and
// deletes those no longer desired. Several replicas therefore need no leader election: they apply
// the same content under one field manager, and whatever one of them did from a stale view (a report
// deleted that the other had just written) is seen and undone by the next run of either.
import { createHash } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { buildReportObjects, MANAGED_BY, type ReportApi, type ReportKind, type ReportObject } from '../cluster-audit/report-objects.js';
import type { AuditRun } from '../cluster-audit/background.js';
import type { AuditReport } from '../cluster-audit/run.js';
import { isRecord } from '../kube.js';
import { failureOf, listPages, ListError, type ReadFailure } from './list-pages.js';

export const FIELD_MANAGER = 'meshguard';
/**
 * The RBAC verbs the writer uses on its two report resources (the chart grants exactly these):
 * list, patch (server-side apply), create (an apply that creates the object is authorized as a
 * create too) and delete.
 */
export const WRITER_VERBS = ['list', 'create', 'patch', 'delete'] as const;
export const CONTENT_HASH_ANNOTATION = 'meshguard.io/content-hash';
const SELECTOR = Object.entries(MANAGED_BY).map(([k, v]) => `${k}=${v}`).join(',');
const METADATA_ONLY = 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json';
const TIMEOUT_MS = 30_000;

/**
 * The content a report carries, as a hash: everything but the results' timestamps (an unchanged
 * audit is not a change) and the hash annotation itself.
 */
export function contentHash(object: ReportObject): string {
  const { results, metadata, ...rest } = object;
  const annotations = { ...metadata.annotations };
  delete annotations[CONTENT_HASH_ANNOTATION];
  const content = { ...rest, metadata: { ...metadata, annotations }, results: results.map((r) => ({ ...r, timestamp: undefined })) };
  return createHash('sha256').update(JSON.stringify(content)).digest('hex').slice(0, 32);
}

export interface WriteOutcome {
  applied: number;
  unchanged: number;
  deleted: number;
  failed: number;
}

export interface ReportWriterOptions {
  kc: KubeConfig;
  api: ReportApi;
  log: Logger;
  /** Counts a failed list, write or delete, by report kind and why (a metric). */
  onError?: (kind: string, reason: ReadFailure) => void;
}

/** One writer per serve process. */
export class ReportWriter {
  /** `Kind reason` already logged at warn: a missing CRD or RBAC is said once, not every interval. */
  private readonly said = new Set<string>();

  constructor(private readonly o: ReportWriterOptions) {}

  /**
   * A report consumer of the background audit (which never runs two at once). Never throws: a
   * failure is logged (once per kind and reason), counted, and retried at the next audit.
   */
  async write(report: AuditReport, run: Pick<AuditRun, 'startedAt'>): Promise<WriteOutcome> {
    try {
      return await this.apply(report, run);
    } catch (err) {
      // Not an answer from the API server (e.g. the kubeconfig's credential plugin failed).
      this.o.log.error({ reports: this.o.api.name, err: (err as Error).message }, 'audit reports not written');
      return { applied: 0, unchanged: 0, deleted: 0, failed: 1 };
    }
  }

  private async apply(report: AuditReport, run: Pick<AuditRun, 'startedAt'>): Promise<WriteOutcome> {
    const { api } = this.o;
    const outcome: WriteOutcome = { applied: 0, unchanged: 0, deleted: 0, failed: 0 };
    const desired = buildReportObjects(report, api, { at: new Date(run.startedAt) });
    // A partial read (other than a kind whose CRD is absent) must not delete the reports of what it missed.
    const mayDelete = report.readErrors.every((e) => e.reason === 'not-served');
    for (const kind of [api.cluster, api.namespaced]) {
      const existing = await this.list(kind);
      if (!existing) {
        outcome.failed++;
        continue;
      }
      const wanted = desired.filter((d) => d.kind === kind.kind);
      const wantedKeys = new Set(wanted.map(keyOf));
      for (const object of wanted) {
        const hash = contentHash(object);
        if (existing.get(keyOf(object)) === hash) {
          outcome.unchanged++;
          continue;
        }
        object.metadata.annotations = { ...object.metadata.annotations, [CONTENT_HASH_ANNOTATION]: hash };
        if (await this.call(kind, 'PATCH', objectPath(api, kind, object.metadata.namespace, object.metadata.name), object)) outcome.applied++;
        else outcome.failed++;
      }
      if (!mayDelete) continue;
      for (const key of existing.keys()) {
        if (wantedKeys.has(key)) continue;
        const [namespace, name] = key.split('/');
        if (await this.call(kind, 'DELETE', objectPath(api, kind, namespace || undefined, name))) outcome.deleted++;
        else outcome.failed++;
      }
    }
    if (outcome.applied || outcome.deleted || outcome.failed) this.o.log.info({ reports: api.name, ...outcome }, 'audit reports written');
    return outcome;
  }

  /** meshguard's reports of a kind, by `namespace/name`, with their content hash; undefined when the list failed. */
  private async list(kind: ReportKind): Promise<Map<string, string> | undefined> {
    const { api, kc } = this.o;
    const out = new Map<string, string>();
    try {
      const path = `/apis/${api.group}/${api.version}/${kind.plural}`;
      for await (const page of listPages(kc, `${path}?labelSelector=${encodeURIComponent(SELECTOR)}`, { accept: METADATA_ONLY, timeoutMs: TIMEOUT_MS })) {
        for (const item of page) {
          const m = item.metadata ?? {};
          out.set(`${m.namespace ?? ''}/${m.name ?? ''}`, m.annotations?.[CONTENT_HASH_ANNOTATION] ?? '');
        }
      }
    } catch (err) {
      if (!(err instanceof ListError)) throw err;
      this.failed(kind, err.reason, `list ${kind.plural}.${api.group}`, err.message);
      return undefined;
    }
    return out;
  }

  /** PATCH (server-side apply) or DELETE; true when it worked (a DELETE of what is already gone too). */
  private async call(kind: ReportKind, method: 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<boolean> {
    const query = method === 'PATCH' ? `?fieldManager=${FIELD_MANAGER}&force=true` : '';
    const { status, message } = await send(this.o.kc, method, path + query, body);
    if ((status >= 200 && status < 300) || (method === 'DELETE' && status === 404)) {
      return true;
    }
    this.failed(kind, status === 0 ? 'unreachable' : failureOf(status), `${method === 'PATCH' ? 'apply' : 'delete'} ${path}`, message);
    return false;
  }

  private failed(kind: ReportKind, reason: ReadFailure, what: string, message: string) {
    this.o.onError?.(kind.kind, reason);
    const key = `${kind.kind} ${reason}`;
    if (this.said.has(key)) return;
    this.said.add(key);
    const hint =
      reason === 'not-served'
        ? `the ${kind.plural}.${this.o.api.group} CRD is not installed (see the README, "Reports")`
        : reason === 'forbidden'
          ? `meshguard's ClusterRole lacks the verbs on ${kind.plural}.${this.o.api.group} (chart value reports.api)`
          : 'retried at the next audit';
    this.o.log.warn({ reports: this.o.api.name, kind: kind.kind, reason, err: message }, `audit reports: cannot ${what}: ${hint}; logged once`);
  }
}

function objectPath(api: ReportApi, kind: ReportKind, namespace: string | undefined, name: string): string {
  const ns = kind.namespaced ? `/namespaces/${encodeURIComponent(namespace ?? '')}` : '';
  return `/apis/${api.group}/${api.version}${ns}/${kind.plural}/${encodeURIComponent(name)}`;
}

const keyOf = (o: ReportObject) => `${o.metadata.namespace ?? ''}/${o.metadata.name}`;

/** One request with the kubeconfig's credentials; status 0 when no answer came. */
async function send(kc: KubeConfig, method: string, path: string, body?: unknown): Promise<{ status: number; message: string }> {
  const server = kc.getCurrentCluster()?.server;
  if (!server) return { status: 0, message: 'the kubeconfig names no cluster server' };
  const url = new URL(server.replace(/\/+$/, '') + path);
  const options: RequestOptions = { method, headers: {} };
  await kc.applyToHTTPSOptions(options);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  options.headers = {
    ...options.headers,
    accept: 'application/json',
    ...(payload === undefined ? {} : { 'content-type': 'application/apply-patch+yaml', 'content-length': Buffer.byteLength(payload) }),
  };
  const request = url.protocol === 'http:' ? httpRequest : httpsRequest;
  return new Promise((resolve) => {
    const req = request(url, options, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        // The answer to an apply is the object; only a failure's Status message is read.
        if (size < 64 * 1024) chunks.push(c);
      });
      res.on('error', (err) => resolve({ status: 0, message: err.message }));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, message: statusMessage(res.statusCode ?? 0, Buffer.concat(chunks).toString('utf8')) }));
    });
    req.setTimeout(TIMEOUT_MS, () => req.destroy(new Error(`no answer within ${TIMEOUT_MS / 1000} s`)));
    req.on('error', (err) => resolve({ status: 0, message: err.message }));
    req.end(payload);
  });
}

function statusMessage(status: number, text: string): string {
  if (status >= 200 && status < 300) return '';
  try {
    const body: unknown = JSON.parse(text);
    if (isRecord(body) && typeof body.message === 'string') return body.message;
  } catch {
    // not a Status object
  }
  return `HTTP ${status}`;
}
