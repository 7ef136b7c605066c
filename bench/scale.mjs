// Large inputs: a cluster state of thousands of namespaces, services and waypoints, and a manifest
// tree for `meshguard check`.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';

/**
 * The objects of a large cluster: a GatewayClass, `namespaces` Namespaces (the first is `shop`, as
 * in the small example cluster), a waypoint in each of the first `waypoints` of them, bound by a
 * namespace label, and `services` Services spread over the namespaces.
 */
export function scaleClusterObjects({ namespaces, services, waypoints }) {
  const docs = [];
  docs.push({ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GatewayClass', metadata: { name: 'istio-waypoint' }, spec: { controllerName: 'istio.io/mesh-controller' } });
  const nsName = (i) => (i === 0 ? 'shop' : `team-${i}`);
  for (let i = 0; i < namespaces; i++) {
    const labels = { 'istio.io/dataplane-mode': 'ambient', 'meshguard.io/enforcement': 'enforce' };
    if (i < waypoints) labels['istio.io/use-waypoint'] = 'waypoint';
    docs.push({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: nsName(i), labels } });
  }
  for (let i = 0; i < waypoints; i++) {
    docs.push({
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'Gateway',
      metadata: { name: 'waypoint', namespace: nsName(i), labels: { 'istio.io/waypoint-for': 'service' } },
      spec: { gatewayClassName: 'istio-waypoint', listeners: [{ name: 'mesh', port: 15008, protocol: 'HBONE' }] },
    });
  }
  for (let i = 0; i < services; i++) {
    const ns = nsName(i % namespaces);
    docs.push({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: `svc-${i}`, namespace: ns, labels: { app: `svc-${i}`, ...(i % namespaces < waypoints && { 'istio.io/use-waypoint': 'waypoint' }) } },
      spec: { selector: { app: `svc-${i}` }, ports: [{ name: 'http', port: 8080, targetPort: 8080 }] },
    });
  }
  return docs;
}

/** Writes a cluster-state directory of scaleClusterObjects. */
export function writeScaleCluster(dir, sizes) {
  mkdirSync(dir, { recursive: true });
  const docs = scaleClusterObjects(sizes);
  // Several files, as a real cluster dump would be.
  const perFile = 5000;
  for (let f = 0; f * perFile < docs.length; f++) {
    writeFileSync(join(dir, `part-${f}.yaml`), docs.slice(f * perFile, (f + 1) * perFile).map((d) => stringify(d)).join('---\n'));
  }
  return dir;
}

/** Runs `meshguard check --format json` over `count` manifests and reports documents per second. */
export function checkCorpus(dir, count) {
  mkdirSync(dir, { recursive: true });
  const perFile = 100;
  for (let f = 0; f * perFile < count; f++) {
    const docs = [];
    for (let i = f * perFile; i < Math.min(count, (f + 1) * perFile); i++) docs.push(manifest(i));
    writeFileSync(join(dir, `m-${f}.yaml`), docs.map((d) => stringify(d)).join('---\n'));
  }
  const started = performance.now();
  const run = spawnSync(process.execPath, ['dist/cli.js', 'check', '--format', 'json', dir], { encoding: 'utf8', maxBuffer: 1 << 30 });
  const seconds = (performance.now() - started) / 1000;
  if (run.status !== 0 && run.status !== 1) throw new Error(`check exited ${run.status}: ${run.stderr}`);
  const report = JSON.parse(run.stdout);
  return { documents: report.summary.documents, seconds: Math.round(seconds * 100) / 100, docsPerSecond: Math.round(report.summary.documents / seconds), exitCode: run.status };
}

/**
 * `meshguard check` on one small file, as a pre-commit hook runs it: wall time and peak RSS of each
 * run (GNU time), `runs` runs per CLI, the CLIs taking turns with a bare `node -e ''` (what starting
 * Node costs on this machine right now). Returns medians per CLI.
 */
export function checkStartup(clis, file, runs) {
  const commands = { 'bare-node': ['-e', ''], ...Object.fromEntries(Object.entries(clis).map(([name, cli]) => [name, [cli, 'check', file]])) };
  const samples = Object.fromEntries(Object.keys(commands).map((name) => [name, { ms: [], rssMb: [] }]));
  for (let r = 0; r < runs; r++) {
    for (const [name, args] of Object.entries(commands)) {
      const run = spawnSync('/usr/bin/time', ['-f', 'MESHGUARD_TIME %e %M', process.execPath, ...args], { encoding: 'utf8' });
      const m = /MESHGUARD_TIME (\S+) (\d+)/.exec(run.stderr);
      if (!m || (run.status !== 0 && run.status !== 1)) throw new Error(`check exited ${run.status}: ${run.stderr}`);
      samples[name].ms.push(Math.round(Number(m[1]) * 1000));
      samples[name].rssMb.push(Math.round(Number(m[2]) / 1024));
    }
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  return Object.fromEntries(Object.entries(samples).map(([name, s]) => [name, { command: commands[name].join(' '), medianMs: median(s.ms), medianRssMb: median(s.rssMb), ...s }]));
}

function manifest(i) {
  const ns = `team-${i % 50}`;
  switch (i % 5) {
    case 0:
      return { apiVersion: 'v1', kind: 'Namespace', metadata: { name: `team-${i % 50}-${i}`, labels: { 'istio.io/dataplane-mode': 'ambient' } } };
    case 1:
      return { apiVersion: 'v1', kind: 'Service', metadata: { name: `svc-${i}`, namespace: ns }, spec: { ports: [{ port: 80 }] } };
    case 2:
      return {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: `app-${i}`, namespace: ns },
        spec: { selector: { matchLabels: { app: `app-${i}` } }, template: { metadata: { labels: { app: `app-${i}` } }, spec: { containers: [{ name: 'app', image: 'app:1' }] } } },
      };
    case 3:
      return {
        apiVersion: 'networking.istio.io/v1',
        kind: 'VirtualService',
        metadata: { name: `vs-${i}`, namespace: ns },
        spec: { hosts: [`svc-${i}`], http: [{ match: [{ uri: { regex: '^/api/v[0-9]+/.*' } }], route: [{ destination: { host: `svc-${i}` } }] }] },
      };
    default:
      return {
        apiVersion: 'security.istio.io/v1',
        kind: 'AuthorizationPolicy',
        metadata: { name: `ap-${i}`, namespace: ns },
        spec: { selector: { matchLabels: { app: `app-${i}` } }, action: 'ALLOW', rules: [{ from: [{ source: { principals: ['cluster.local/ns/a/sa/b'] } }] }] },
      };
  }
}
