import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface E2EBinaries {
  kubeApiserver: string;
  etcd: string;
  helm: string;
}

const SCRIPT = fileURLToPath(new URL('./build-binaries.sh', import.meta.url));
const REPO = fileURLToPath(new URL('../..', import.meta.url));

let built: Promise<E2EBinaries> | undefined;

/**
 * The real kube-apiserver, etcd and helm binaries, built (or found in the cache) by
 * test/e2e/build-binaries.sh. The script runs once per test process; its progress goes to stderr.
 */
export function e2eBinaries(): Promise<E2EBinaries> {
  built ??= Promise.resolve().then(runBuildScript);
  // A failed build is not remembered, so a later call can try again.
  built.catch(() => (built = undefined));
  return built;
}

function runBuildScript(): E2EBinaries {
  const run = spawnSync('bash', [SCRIPT], {
    cwd: REPO,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 1024 * 1024,
  });
  if (run.error) throw new Error(`cannot run ${SCRIPT}: ${run.error.message}`);
  if (run.status !== 0) throw new Error(`${SCRIPT} failed (exit ${run.status ?? run.signal}); its log is on stderr above`);
  const paths = new Map<string, string>();
  for (const line of run.stdout.split('\n')) {
    const m = /^([A-Z_]+)=(.+)$/.exec(line.trim());
    if (m) paths.set(m[1], m[2]);
  }
  const get = (key: string) => {
    const path = paths.get(key);
    if (!path) throw new Error(`${SCRIPT} printed no ${key}= line; its stdout was:\n${run.stdout}`);
    return path;
  };
  return { kubeApiserver: get('KUBE_APISERVER'), etcd: get('ETCD'), helm: get('HELM') };
}
