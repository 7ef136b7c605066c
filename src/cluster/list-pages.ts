import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import type { KubeObject } from '../kube.js';
import { isRecord } from '../kube.js';

/** Why a kind could not be read: each needs a different fix, so each is said apart. */
export type ReadFailure = 'unreachable' | 'unauthorized' | 'forbidden' | 'not-served' | 'failed';

// Fields, not parameter properties: the audit worker runs src/ with type stripping under vitest.
export class ListError extends Error {
  readonly reason: ReadFailure;
  /** The HTTP status (or a watch ERROR event's code); 0 when none came back. */
  readonly status: number;

  constructor(reason: ReadFailure, message: string, status = 0) {
    super(message);
    this.reason = reason;
    this.status = status;
  }
}

/**
 * What a request to the API server needs of a kubeconfig: the server's URL, and the credentials set
 * on one request's options, afresh each time (tokens rotate, exec plugins refresh). A KubeConfig is
 * one; the background audit's thread has one that asks the main thread (carried-credentials.ts).
 */
export interface ApiCredentials {
  getCurrentCluster(): { server: string } | null;
  applyToHTTPSOptions(options: RequestOptions): Promise<void>;
}

export interface ListOptions {
  /** Objects per page (the LIST `limit`); the API server hands back a `continue` token for the next. */
  pageSize?: number;
  /** Per request, so a server that accepts the connection and never answers cannot hang a read. */
  timeoutMs?: number;
  /** The Accept header, e.g. to ask for PartialObjectMetadataList (default application/json). */
  accept?: string;
  signal?: AbortSignal;
}

const PAGE_SIZE = 500;
const TIMEOUT_MS = 30_000;
/** A page of 500 Pods is a few MB; a response far beyond that is not a page. */
const MAX_PAGE_BYTES = 256 * 1024 * 1024;

/**
 * LISTs an API path a page at a time (`limit` + `continue`), so 100,000 Pods never sit in memory as
 * one response. The objects are the API server's JSON as served, like an AdmissionReview's object,
 * with the kubeconfig's credentials (tokens, client certificates, exec plugins) applied by
 * @kubernetes/client-node. Returns the list's resourceVersion (to watch from) when done. Throws ListError.
 */
export async function* listPages(kc: ApiCredentials, path: string, o: ListOptions = {}): AsyncGenerator<KubeObject[], string> {
  let token: string | undefined;
  for (;;) {
    const query = new URLSearchParams({ limit: String(o.pageSize ?? PAGE_SIZE) });
    if (token) query.set('continue', token);
    // A path may carry a query of its own (a labelSelector).
    const list = await getJson(kc, `${path}${path.includes('?') ? '&' : '?'}${query}`, o);
    const items = Array.isArray(list.items) ? list.items.filter(isRecord) : [];
    const metadata = isRecord(list.metadata) ? list.metadata : {};
    token = typeof metadata.continue === 'string' && metadata.continue ? metadata.continue : undefined;
    yield items;
    if (!token) return typeof metadata.resourceVersion === 'string' ? metadata.resourceVersion : '';
  }
}

async function getJson(kc: ApiCredentials, path: string, o: ListOptions): Promise<Record<string, unknown>> {
  const res = await apiGet(kc, path, o);
  const text = await new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    res.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_PAGE_BYTES) res.destroy(new ListError('failed', `response larger than ${MAX_PAGE_BYTES} bytes`));
      else chunks.push(chunk);
    });
    res.on('error', (err) => reject(err instanceof ListError ? err : new ListError('unreachable', err.message)));
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
  try {
    const body: unknown = JSON.parse(text);
    if (!isRecord(body)) throw new Error('not an object');
    return body;
  } catch (err) {
    throw new ListError('failed', `the API server's answer is not a JSON list: ${(err as Error).message}`);
  }
}

/**
 * GET `path` (with its query) on the kubeconfig's API server, credentials applied afresh for each
 * request (tokens rotate). Resolves with a 200 response to read or stream, else rejects with a
 * ListError carrying the status and the API server's message. `timeoutMs` is the longest silence.
 */
export async function apiGet(kc: ApiCredentials, path: string, o: Pick<ListOptions, 'timeoutMs' | 'accept' | 'signal'> = {}): Promise<IncomingMessage> {
  const server = kc.getCurrentCluster()?.server;
  if (!server) throw new ListError('unreachable', 'the kubeconfig names no cluster server');
  // Appended, not resolved: a server URL may have a path of its own (an API proxy).
  const url = new URL(server.replace(/\/+$/, '') + path);
  const timeoutMs = o.timeoutMs ?? TIMEOUT_MS;
  const options: RequestOptions = { method: 'GET', headers: {}, signal: o.signal };
  await kc.applyToHTTPSOptions(options);
  options.headers = { ...options.headers, accept: o.accept ?? 'application/json' };
  const request = url.protocol === 'http:' ? httpRequest : httpsRequest;
  return new Promise((resolve, reject) => {
    const req = request(url, options, (res) => {
      const status = res.statusCode ?? 0;
      if (status === 200) return resolve(res);
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => {
        if (chunks.length < 64) chunks.push(c);
      });
      res.on('error', (err) => reject(new ListError('unreachable', err.message)));
      res.on('end', () => reject(statusError(status, Buffer.concat(chunks).toString('utf8'))));
    });
    req.setTimeout(timeoutMs, () => req.destroy(new ListError('unreachable', `no answer within ${timeoutMs / 1000} s`)));
    req.on('error', (err) =>
      reject(err instanceof ListError ? err : new ListError('unreachable', `${(err as NodeJS.ErrnoException).code ?? ''} ${err.message}`.trim())),
    );
    req.end();
  });
}

/** The failure an HTTP status (or a watch ERROR event's code) means. */
export function failureOf(status: number): ReadFailure {
  return status === 401 ? 'unauthorized' : status === 403 ? 'forbidden' : status === 404 ? 'not-served' : 'failed';
}

/** The API server's Status message when it sent one (e.g. RBAC's `pods is forbidden: User ...`). */
function statusError(status: number, text: string): ListError {
  let message = `HTTP ${status}`;
  try {
    const body: unknown = JSON.parse(text);
    if (isRecord(body) && typeof body.message === 'string') message = body.message;
  } catch {
    // not a Status object
  }
  return new ListError(failureOf(status), message, status);
}
