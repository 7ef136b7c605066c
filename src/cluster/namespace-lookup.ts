import { request, type RequestOptions } from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import type { KubeObject } from '../kube.js';
import { isRecord, nameOf } from '../kube.js';
import { withNamespace, type ClusterSnapshot } from './snapshot.js';

/** Fetches one Namespace; undefined when the API server says it does not exist (404). */
export type NamespaceFetch = (name: string, signal: AbortSignal) => Promise<KubeObject | undefined>;

/** What a cache miss came to: the Namespace and the snapshot to decide with, or why there is none. */
export type NamespaceMiss =
  | { result: 'fetched'; namespace: KubeObject; snapshot: ClusterSnapshot }
  | { result: 'not-found' | 'failed'; reason: string };

/** A bound on a GET that must leave the webhook time to answer within its own timeout (3 s for pods). */
export const LOOKUP_TIMEOUT_MS = 1_000;
/** Distinct namespaces fetched at once; beyond that a miss fails at once instead of queueing. */
export const MAX_LOOKUPS_IN_FLIGHT = 32;
// A Namespace's name is a DNS-1123 label (k8s.io/apimachinery validation.IsDNS1123Label).
const NAMESPACE_NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/**
 * Live mode's answer to a Namespace the informer has not seen yet (a pod created right after its
 * namespace): one GET to the API server, bounded by a timeout, shared by every request that misses
 * the same namespace meanwhile. The fetched Namespace is used for that request only, never written
 * to the cache, which stays the informer's alone (a stale write could outlive a deletion).
 */
export class NamespaceLookup {
  private readonly inFlight = new Map<string, Promise<KubeObject | undefined>>();

  constructor(
    private readonly fetch: NamespaceFetch,
    private readonly timeoutMs = LOOKUP_TIMEOUT_MS,
    private readonly maxInFlight = MAX_LOOKUPS_IN_FLIGHT,
  ) {}

  async resolve(snapshot: ClusterSnapshot, name: string): Promise<NamespaceMiss> {
    if (!NAMESPACE_NAME.test(name)) return { result: 'failed', reason: 'not a valid namespace name' };
    let pending = this.inFlight.get(name);
    if (!pending) {
      if (this.inFlight.size >= this.maxInFlight) return { result: 'failed', reason: `${this.maxInFlight} namespace lookups already in flight` };
      pending = this.fetchWithin(name);
      this.inFlight.set(name, pending);
      void pending.then(
        () => this.inFlight.delete(name),
        () => this.inFlight.delete(name),
      );
    }
    try {
      const ns = await pending;
      if (!ns) return { result: 'not-found', reason: `namespace ${name} does not exist` };
      return { result: 'fetched', namespace: ns, snapshot: withNamespace(snapshot, name, ns) };
    } catch (err) {
      return { result: 'failed', reason: `GET namespace ${name}: ${(err as Error).message}` };
    }
  }

  private async fetchWithin(name: string): Promise<KubeObject | undefined> {
    const abort = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const err = new Error(`no answer within ${this.timeoutMs} ms`);
        abort.abort(err);
        reject(err);
      }, this.timeoutMs);
    });
    try {
      return await Promise.race([this.fetch(name, abort.signal), deadline]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Largest Namespace accepted: a Namespace is metadata only, a few KB even with managedFields. */
const MAX_BYTES = 1024 * 1024;

/** GET /api/v1/namespaces/<name> with the kubeconfig's credentials (client-node applies them). */
export function namespaceFetcher(kc: KubeConfig): NamespaceFetch {
  return async (name, signal) => {
    const server = kc.getCurrentCluster()?.server;
    if (!server) throw new Error('the kubeconfig names no cluster server');
    const options: RequestOptions = { method: 'GET', headers: { accept: 'application/json' } };
    await kc.applyToHTTPSOptions(options);
    // Appended, not resolved: a server URL may carry a path prefix (an API proxy).
    const url = `${server.replace(/\/+$/, '')}/api/v1/namespaces/${encodeURIComponent(name)}`;
    return new Promise((resolve, reject) => {
      const req = request(url, { ...options, signal }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_BYTES) req.destroy(new Error(`answer larger than ${MAX_BYTES} bytes`));
          else chunks.push(chunk);
        });
        res.on('error', reject);
        res.on('end', () => {
          if (res.statusCode === 404) return resolve(undefined);
          if (res.statusCode !== 200) return reject(new Error(`HTTP ${res.statusCode}`));
          try {
            const body: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
            if (!isRecord(body) || nameOf(body) !== name) throw new Error(`not Namespace ${name}`);
            resolve({ ...(body as KubeObject), apiVersion: 'v1', kind: 'Namespace' });
          } catch (err) {
            reject(new Error(`unreadable answer: ${(err as Error).message}`));
          }
        });
      });
      req.on('error', reject);
      req.end();
    });
  };
}
