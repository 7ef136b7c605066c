import { writeFileSync } from 'node:fs';

/** Writes a kubeconfig for a loopback stand-in API server (plain HTTP needs insecure-skip-tls-verify for client-node). */
export function writeKubeconfig(file: string, server: string): string {
  writeFileSync(
    file,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'c', cluster: { server, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'u', user: { token: 't' } }],
      contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
      'current-context': 'x',
    }),
  );
  return file;
}
