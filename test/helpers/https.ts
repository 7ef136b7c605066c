import { request, Agent } from 'node:https';

export interface HttpsResponse {
  status: number;
  body: string;
  json(): any;
  headers: Record<string, unknown>;
  peerFingerprint?: string;
}

/** POSTs or GETs over real TLS, verifying the server against `ca`. A new connection each call unless an agent is given. */
export function httpsCall(
  port: number,
  path: string,
  opts: { ca: string; body?: unknown; method?: string; agent?: Agent; headers?: Record<string, string> },
): Promise<HttpsResponse> {
  return new Promise((resolve, reject) => {
    const payload = opts.body === undefined ? undefined : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: opts.method ?? (payload === undefined ? 'GET' : 'POST'),
        ca: opts.ca,
        servername: 'localhost',
        agent: opts.agent ?? false,
        headers: { ...(payload !== undefined && { 'content-type': 'application/json' }), ...opts.headers },
        timeout: 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        const fingerprint = (res.socket as import('node:tls').TLSSocket).getPeerCertificate?.()?.fingerprint256;
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString();
          resolve({ status: res.statusCode ?? 0, body, json: () => JSON.parse(body), headers: res.headers, peerFingerprint: fingerprint });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(payload);
  });
}
