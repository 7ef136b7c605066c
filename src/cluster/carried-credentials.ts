// The background audit's thread lists and watches the API server with the main thread's kubeconfig,
// without loading @kubernetes/client-node itself (about 37 MB of RSS for a second copy in a second
// isolate): the main thread applies the kubeconfig's credentials to a request's options, as it does
// for its own requests, and hands the result over as data.
import type { RequestOptions } from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import type { ApiCredentials } from './list-pages.js';

/**
 * What KubeConfig.applyToHTTPSOptions sets that another thread can use (client-node's config.ts
 * applyHTTPSOptions and applyAuthorizationHeader). Not its Agent: an object of this thread, rebuilt
 * there from these same fields by https.request.
 */
const CARRIED = ['ca', 'cert', 'key', 'pfx', 'passphrase', 'headers', 'auth', 'rejectUnauthorized', 'servername'] as const;
export type CarriedOptions = Pick<RequestOptions, (typeof CARRIED)[number]>;

/**
 * Whether requests can be made elsewhere from carried options: not when the kubeconfig names a
 * proxy (proxy-url), which only client-node's proxy agents speak.
 */
export function canCarry(kc: KubeConfig): boolean {
  const cluster = kc.getCurrentCluster();
  return Boolean(cluster?.server) && !cluster?.proxyUrl;
}

/** Main thread: one request's credentials, as data (a structured clone). */
export async function carriedOptions(kc: KubeConfig): Promise<CarriedOptions> {
  const options: RequestOptions = {};
  await kc.applyToHTTPSOptions(options);
  const carried: Record<string, unknown> = {};
  for (const field of CARRIED) if (options[field] !== undefined) carried[field] = options[field];
  return carried;
}

/** A Buffer crosses a thread as a Uint8Array; TLS options are given back as Buffers. */
const asBuffer = (v: unknown) => (v instanceof Uint8Array && !Buffer.isBuffer(v) ? Buffer.from(v.buffer, v.byteOffset, v.byteLength) : v);

/** Worker thread: credentials for `server` whose options `fetch` brings from the main thread. */
export function remoteCredentials(server: string, fetch: () => Promise<CarriedOptions>): ApiCredentials {
  return {
    getCurrentCluster: () => ({ server }),
    async applyToHTTPSOptions(options) {
      const { headers, ...tls } = await fetch();
      for (const [field, value] of Object.entries(tls)) (options as Record<string, unknown>)[field] = asBuffer(value);
      options.headers = { ...options.headers, ...headers };
    },
  };
}
