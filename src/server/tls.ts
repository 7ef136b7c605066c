import { existsSync, mkdirSync, readFileSync, unwatchFile, watchFile, writeFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import { createSecureContext as tlsContext } from 'node:tls';
import type { Logger } from 'pino';
import { generate } from 'selfsigned';

export interface KeyPair {
  cert: string;
  key: string;
}

/**
 * TLS for the admission port: Mozilla's "intermediate" profile (ssl-config.mozilla.org, guideline 5.7),
 * TLS 1.2 as the minimum and only forward-secret AEAD suites. Its DHE suites are left out: no DH
 * parameters are configured, and kube-apiserver (Go crypto/tls) does not implement DHE. Passed on every
 * certificate reload too: setSecureContext resets what it is not given to Node's defaults.
 */
export const TLS_SERVER_OPTIONS = {
  minVersion: 'TLSv1.2',
  ciphers: [
    'TLS_AES_128_GCM_SHA256',
    'TLS_AES_256_GCM_SHA384',
    'TLS_CHACHA20_POLY1305_SHA256',
    'ECDHE-ECDSA-AES128-GCM-SHA256',
    'ECDHE-RSA-AES128-GCM-SHA256',
    'ECDHE-ECDSA-AES256-GCM-SHA384',
    'ECDHE-RSA-AES256-GCM-SHA384',
    'ECDHE-ECDSA-CHACHA20-POLY1305',
    'ECDHE-RSA-CHACHA20-POLY1305',
  ].join(':'),
} as const;

/** The chart's service DNS names (release `meshguard` in namespace `meshguard`), plus loopback. */
export const DEV_DNS_NAMES = [
  'localhost',
  'meshguard',
  'meshguard.meshguard',
  'meshguard.meshguard.svc',
  'meshguard.meshguard.svc.cluster.local',
];
export const DEV_IPS = ['127.0.0.1'];

const days = (n: number) => new Date(Date.now() + n * 86_400_000);

/** A CA and a serving certificate signed by it (sha256, SANs for the given names and IPs). */
export async function generateCertificates(dnsNames = DEV_DNS_NAMES, ips = DEV_IPS, ca?: KeyPair) {
  ca ??= await generateCa();
  const server = await generate([{ name: 'commonName', value: dnsNames[0] ?? 'meshguard' }], {
    algorithm: 'sha256',
    keySize: 2048,
    notBeforeDate: days(-1),
    notAfterDate: days(365),
    ca: { key: ca.key, cert: ca.cert },
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [...dnsNames.map((value) => ({ type: 2 as const, value })), ...ips.map((ip) => ({ type: 7 as const, ip }))],
      },
    ],
  });
  return { ca, server: { cert: server.cert, key: server.private } };
}

export async function generateCa(): Promise<KeyPair> {
  const ca = await generate([{ name: 'commonName', value: 'meshguard dev CA' }], {
    algorithm: 'sha256',
    keySize: 2048,
    notBeforeDate: days(-1),
    notAfterDate: days(3650),
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    ],
  });
  return { cert: ca.cert, key: ca.private };
}

/**
 * Dev certificates in `dir` (ca.crt, ca.key, tls.crt, tls.key): reused while valid for another day,
 * generated otherwise. Returns the paths.
 */
export async function ensureDevCertificates(dir: string) {
  const paths = { ca: join(dir, 'ca.crt'), caKey: join(dir, 'ca.key'), cert: join(dir, 'tls.crt'), key: join(dir, 'tls.key') };
  if (Object.values(paths).every(existsSync) && usable(paths.cert, paths.key)) return { ...paths, generated: false };
  const { ca, server } = await generateCertificates();
  mkdirSync(dir, { recursive: true });
  writeFileSync(paths.ca, ca.cert);
  writeFileSync(paths.caKey, ca.key, { mode: 0o600 });
  writeFileSync(paths.key, server.key, { mode: 0o600 });
  writeFileSync(paths.cert, server.cert);
  return { ...paths, generated: true };
}

function usable(certFile: string, keyFile: string): boolean {
  try {
    const pair = readKeyPair(certFile, keyFile);
    return new Date(new X509Certificate(pair.cert).validTo).getTime() > Date.now() + 86_400_000;
  } catch {
    return false;
  }
}

/** Reads a key pair and proves it usable (parses, key matches cert) before anyone serves with it. */
export function readKeyPair(certFile: string, keyFile: string): KeyPair {
  const pair = { cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8') };
  tlsContext(pair);
  return pair;
}

/**
 * Watches a cert and key (a Kubernetes Secret volume swaps a `..data` symlink, so the paths are polled,
 * which follows links) and hands each new valid pair to `apply`. A half-written rotation (new cert,
 * old key) fails the check and is retried on the next change; the old pair keeps serving meanwhile.
 */
export function watchKeyPair(certFile: string, keyFile: string, apply: (pair: KeyPair) => void, log: Logger, intervalMs = 1000) {
  let current = readKeyPair(certFile, keyFile);
  const reload = () => {
    let next: KeyPair;
    try {
      next = readKeyPair(certFile, keyFile);
    } catch (err) {
      log.warn({ err: (err as Error).message, certFile, keyFile }, 'serving certificate changed but is not usable yet; keeping the current one');
      return;
    }
    if (next.cert === current.cert && next.key === current.key) return;
    current = next;
    apply(next);
    log.info({ certFile, notAfter: new X509Certificate(next.cert).validTo }, 'serving certificate reloaded');
  };
  for (const f of [certFile, keyFile]) watchFile(f, { interval: intervalMs, persistent: false }, reload);
  return {
    initial: current,
    close: () => [certFile, keyFile].forEach((f) => unwatchFile(f, reload)),
  };
}
