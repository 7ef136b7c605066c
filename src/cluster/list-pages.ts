import { request, type RequestOptions } from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import type { KubeObject } from '../kube.js';
import { isRecord } from '../kube.js';

/** Why a kind could not be read: each needs a different fix, so each is said apart. */
export type ReadFailure = 'unreachable' | 'unauthorized' | 'forbidden' | 'not-served' | 'failed';

export class ListError extends Error {
  constructor(
    readonly reason: ReadFailure,
    message: string,
  ) {
    super(message);
  }
}

export interface ListOptions {
  /** Objects per page (the LIST `limit`); the API server hands back a `continue` token for the next. */
  pageSize?: number;
  /** Per request, so a server that accepts the connection and never answers cannot hang a read. */
  timeoutMs?: number;
}

const PAGE_SIZE = 500;
const TIMEOUT_MS = 30_000;
/** A page of 500 Pods is a few MB; a response far beyond that is not a page. */
const MAX_PAGE_BYTES = 256 * 1024 * 1024;

/**
 * LISTs an API path a page at a time (`limit` + `continue`), so 100,000 Pods never sit in memory as
 * one response. The objects are the API server's JSON as served, like an AdmissionReview's object,
 * with the kubeconfig's credentials (tokens, client certificates, exec plugins) applied by
 * @kubernetes/client-node. Throws ListError.
 */
export async function* listPages(kc: KubeConfig, path: string, o: ListOptions = {}): AsyncGenerator<KubeObject[]> {
  const server = kc.getCurrentCluster()?.server;
  if (!server) throw new ListError('unreachable', 'the kubeconfig names no cluster server');
  let token: string | undefined;
  do {
    const query = new URLSearchParams({ limit: String(o.pageSize ?? PAGE_SIZE) });
    if (token) query.set('continue', token);
    const list = await getJson(kc, new URL(`${path}?${query}`, server), o.timeoutMs ?? TIMEOUT_MS);
    const items = Array.isArray(list.items) ? list.items.filter(isRecord) : [];
    const metadata = isRecord(list.metadata) ? list.metadata : {};
    token = typeof metadata.continue === 'string' && metadata.continue ? metadata.continue : undefined;
    yield items;
  } while (token);
}

async function getJson(kc: KubeConfig, url: URL, timeoutMs: number): Promise<Record<string, unknown>> {
  const options: RequestOptions = { method: 'GET', headers: { accept: 'application/json' } };
  await kc.applyToHTTPSOptions(options);
  return new Promise((resolve, reject) => {
    const req = request(url, { ...options, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_PAGE_BYTES) req.destroy(new ListError('failed', `response larger than ${MAX_PAGE_BYTES} bytes`));
        else chunks.push(chunk);
      });
      res.on('error', (err) => reject(new ListError('unreachable', err.message)));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const status = res.statusCode ?? 0;
        if (status !== 200) return reject(statusError(status, text));
        try {
          const body: unknown = JSON.parse(text);
          if (!isRecord(body)) throw new Error('not an object');
          resolve(body);
        } catch (err) {
          reject(new ListError('failed', `the API server's answer is not a JSON list: ${(err as Error).message}`));
        }
      });
    });
    req.on('timeout', () => req.destroy(new ListError('unreachable', `no answer within ${timeoutMs / 1000} s`)));
    req.on('error', (err) =>
      reject(err instanceof ListError ? err : new ListError('unreachable', `${(err as NodeJS.ErrnoException).code ?? ''} ${err.message}`.trim())),
    );
    req.end();
  });
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
  const reason: ReadFailure = status === 401 ? 'unauthorized' : status === 403 ? 'forbidden' : status === 404 ? 'not-served' : 'failed';
  return new ListError(reason, message);
}
