import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Server as HttpsServer } from 'node:https';
import { resolve } from 'node:path';
import { pino, type Logger } from 'pino';
import { escapeLineSeparators } from '../client-text.js';
import { storeFromDirectory } from '../cluster/from-files.js';
import { startAuditThread } from '../cluster-audit/audit-thread.js';
import type { BackgroundAudit } from '../cluster-audit/background.js';
import { watchedResources } from '../cluster-audit/caches.js';
import { REPORT_API, type ReportApiName } from '../cluster-audit/report-objects.js';
import { ClusterInformers } from '../cluster/informers.js';
import { ReportWriter } from '../cluster/report-writer.js';
import { resourceName } from '../cluster/resources.js';
import { NamespaceLookup, namespaceFetcher } from '../cluster/namespace-lookup.js';
import { kubeConfig } from '../cluster/kubeconfig.js';
import { ClusterStore, SNAPSHOT_KINDS, type SnapshotKind } from '../cluster/snapshot.js';
import type { ResourceState } from '../cluster/reader.js';
import { DEFAULT_POLICY_FILE, loadPolicyFile, withIstioVersion } from '../policy/load.js';
import type { PodChecksAt } from '../mutate/admit-pod.js';
import { buildApp, type Readiness } from './app.js';
import { createMetrics, type Metrics } from './metrics.js';
import type { Policy } from '../policy/types.js';
import { ensureDevCertificates, TLS_SERVER_OPTIONS, watchKeyPair } from './tls.js';

export interface ServeOptions {
  host?: string;
  port?: number;
  /** Plain-HTTP port for /metrics; 0 picks a free one; undefined serves no metrics. */
  metricsPort?: number;
  tlsCert?: string;
  tlsKey?: string;
  /** Where dev certificates live when no --tls-cert/--tls-key is given. */
  certsDir?: string;
  policyFile?: string;
  kubeconfig?: string;
  clusterState?: string;
  log?: Logger;
  /** How often the cert and key are polled for rotation. */
  certPollMs?: number;
  /**
   * How long `close()` keeps serving normally before it stops accepting (--shutdown-delay): kube-apiserver
   * keeps sending to a terminating pod until its endpoint removal has reached every node. 0 by default
   * here (tests, embedding); the CLI defaults to 5 s.
   */
  shutdownDelayMs?: number;
  /** The Istio version rules are judged for (--istio-version), instead of the policy's istioVersion. */
  istioVersion?: string;
  /** Where the pod checks of a Pod CREATE run (--pod-checks; admit-pod.ts PodChecksAt). */
  podChecksAt?: PodChecksAt;
  /** Open connections allowed on the admission port; more are closed at once. */
  maxConnections?: number;
  /**
   * Time between background audits of the cluster (--audit-interval); 0 or undefined: none. Live
   * mode only: the audit reads watched caches of every audited kind.
   */
  auditIntervalMs?: number;
  /** Milliseconds the background audit evaluates between two event-loop turns (auditCluster's sliceMs). */
  auditSliceMs?: number;
  /**
   * Report objects written from each background audit (--reports): openreports.io Report and
   * ClusterReport, wgpolicyk8s.io PolicyReport and ClusterPolicyReport, or none (the default).
   */
  reports?: ReportApiName;
}

export interface Running {
  port: number;
  metricsPort?: number;
  log: Logger;
  /** The background audit, when one runs (live mode with an audit interval). */
  audit?: BackgroundAudit;
  close(): Promise<void>;
}

/** Starts `meshguard serve`: loads policy and certificates, the cluster view, the HTTPS and metrics servers. */
export async function serve(o: ServeOptions): Promise<Running> {
  const log = o.log ?? pino({ level: 'info', hooks: { streamWrite: escapeLineSeparators } });
  const policyFile = o.policyFile ?? DEFAULT_POLICY_FILE;
  const policy = withIstioVersion(loadPolicyFile(policyFile), o.istioVersion);
  log.info({ policyFile, clusterDefaultMode: policy.clusterDefaultMode, istioVersion: policy.istioVersion }, 'policy loaded');

  let certFile = o.tlsCert;
  let keyFile = o.tlsKey;
  if (!certFile || !keyFile) {
    if (certFile || keyFile) throw new Error('--tls-cert and --tls-key go together');
    const dev = await ensureDevCertificates(resolve(o.certsDir ?? 'certs'));
    log.info({ ca: dev.ca, generated: dev.generated }, `dev certificates in use; trust ${dev.ca} to call the webhook`);
    certFile = dev.cert;
    keyFile = dev.key;
  }

  const metrics = createMetrics();
  const cluster = clusterSource(o, log, metrics);
  let shuttingDown = false;
  // While shutting down /readyz fails, so the pod's endpoint is taken out of rotation on that signal too.
  const readiness: Readiness = {
    ready: () => !shuttingDown && cluster.synced(),
    pending: () => (shuttingDown ? ['shutting down'] : cluster.pending()),
  };

  const watcher = watchKeyPair(certFile, keyFile, (pair) => (app.server as HttpsServer).setSecureContext({ ...pair, ...TLS_SERVER_OPTIONS }), log, o.certPollMs);
  const app = buildApp({ https: watcher.initial, policy, store: cluster.store, namespaceLookup: cluster.namespaceLookup, readiness, metrics, log, shuttingDown: () => shuttingDown, maxConnections: o.maxConnections, podChecksAt: o.podChecksAt });
  const connections = trackConnections(app.server);
  await app.listen({ host: o.host ?? '0.0.0.0', port: o.port ?? 8443 });
  const port = (app.server.address() as AddressInfo).port;

  let metricsServer: Server | undefined;
  if (o.metricsPort !== undefined) {
    metricsServer = createServer((req, res) => {
      if (req.method !== 'GET' || req.url?.split('?')[0] !== '/metrics') return void res.writeHead(404).end();
      metrics.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
        () => res.writeHead(500).end(),
      );
    });
    await new Promise<void>((ok) => metricsServer!.listen(o.metricsPort, o.host ?? '0.0.0.0', ok));
  }
  const metricsPort = metricsServer ? (metricsServer.address() as AddressInfo).port : undefined;
  log.info({ port, metricsPort, cluster: cluster.description }, 'meshguard serving');

  const audit = backgroundAudit(o, cluster, policy, log, metrics);
  if (o.reports && o.reports !== 'none' && !audit) {
    const why = cluster.informers ? '--audit-interval is 0' : `there is no live cluster (${cluster.description}; the audit runs in live mode only)`;
    log.warn({ reports: o.reports }, `--reports ${o.reports} writes the background audit's results, but the background audit is off: ${why}; no reports will be written`);
  }

  let closed: Promise<void> | undefined;
  const close = async () => {
    shuttingDown = true;
    const delayMs = o.shutdownDelayMs ?? 0;
    if (delayMs > 0) {
      log.info({ delayMs }, 'shutdown: serving on for the shutdown delay while the endpoint is removed');
      await new Promise((r) => setTimeout(r, delayMs));
    }
    watcher.close();
    await audit?.stop();
    cluster.stop();
    // Stop accepting and wait for in-flight requests. Connections with no request in flight are
    // closed at once: kube-apiserver may hold a TLS connection it never sends on, which would
    // otherwise hold the shutdown open.
    const appClosed = app.close();
    connections.closeIdle();
    await appClosed;
    await new Promise<void>((ok) => (metricsServer ? metricsServer.close(() => ok()) : ok()));
    log.info('meshguard stopped');
    log.flush();
  };

  return {
    port,
    metricsPort,
    log,
    audit,
    close: () => (closed ??= close()),
  };
}

/**
 * Tracks an HTTPS server's TCP connections and which of them have a request in flight, so shutdown
 * can close the others at once, including those still in (or just past) the TLS handshake.
 * Connections are matched by their remote address and port, the same for the TCP and TLS socket.
 */
function trackConnections(server: unknown) {
  const s = server as HttpsServer;
  const connections = new Set<Socket>();
  const busy = new Map<string, number>();
  const id = (socket: Socket) => `${socket.remoteAddress}:${socket.remotePort}`;
  s.on('connection', (socket: Socket) => {
    connections.add(socket);
    socket.once('close', () => connections.delete(socket));
  });
  s.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const key = id(req.socket);
    busy.set(key, (busy.get(key) ?? 0) + 1);
    res.once('close', () => {
      const left = (busy.get(key) ?? 1) - 1;
      if (left > 0) busy.set(key, left);
      else busy.delete(key);
    });
  });
  return {
    closeIdle() {
      for (const socket of connections) if (!busy.has(id(socket))) socket.destroy();
    },
  };
}

/**
 * The background audit (live mode, --audit-interval > 0), in a worker thread of its own
 * (cluster-audit/audit-worker.ts) so that its CPU and garbage collection do not hold up /mutate on
 * this event loop: watched caches for the kinds the snapshot does not hold, a replica of the snapshot
 * store for the others. Its reports come back here to the audit gauges, the first consumer, and with
 * --reports the report writer, the second. Readiness does not wait for these caches: only the audit does.
 */
function backgroundAudit(o: ServeOptions, live: ReturnType<typeof clusterSource>, policy: Policy, log: Logger, metrics: Metrics) {
  const { informers, kc } = live;
  if (!o.auditIntervalMs || !informers || !kc) return undefined;
  const watched = watchedResources(policy).map(resourceName);
  for (const kind of watched) metrics.cacheSynced.set({ kind }, 0);
  const audit = startAuditThread({
    store: informers.store,
    snapshotStates: informers.state,
    kubeconfig: o.kubeconfig,
    kc,
    policy,
    intervalMs: o.auditIntervalMs,
    sliceMs: o.auditSliceMs,
    log,
    onCache: (kind, state, objects) => metrics.cacheState(kind, state, objects),
    onReport: [metrics.auditReport],
  });
  live.onSnapshotState.push((kind, state) => audit.snapshotState(kind, state));
  const reports = o.reports && o.reports !== 'none' ? REPORT_API[o.reports] : undefined;
  if (reports) {
    const writer = new ReportWriter({ kc, api: reports, log, onError: metrics.reportError });
    audit.onReport(async (report, run) => {
      await writer.write(report, run);
    });
  }
  log.info({ intervalMs: o.auditIntervalMs, watched, reports: reports ? `${reports.group}/${reports.version}` : 'none' }, 'background audit on');
  return audit;
}

/** Live informers with a kubeconfig (flag, in-cluster or KUBECONFIG); else manifests from a directory; else empty. */
function clusterSource(o: ServeOptions, log: Logger, metrics: Metrics) {
  const kc = kubeConfig(o.kubeconfig);
  /** Told each snapshot kind's new state (the audit worker's replica follows it). */
  const onSnapshotState: Array<(kind: SnapshotKind, state: ResourceState) => void> = [];
  if (kc && !o.clusterState) {
    const informers = new ClusterInformers(kc, log, (kind, state, objects) => {
      metrics.cacheState(kind, state, objects);
      for (const listener of onSnapshotState) listener(kind, state);
    });
    for (const kind of SNAPSHOT_KINDS) metrics.cacheSynced.set({ kind }, 0);
    informers.start();
    return {
      informers,
      kc,
      store: informers.store,
      synced: () => informers.synced(),
      pending: () => informers.pending(),
      stop: () => informers.stop(),
      namespaceLookup: new NamespaceLookup(namespaceFetcher(kc)),
      description: `live (${kc.getCurrentCluster()?.server ?? 'in-cluster'})`,
      onSnapshotState,
    };
  }
  const store = o.clusterState ? storeFromDirectory(o.clusterState) : new ClusterStore();
  for (const kind of SNAPSHOT_KINDS) metrics.cacheState(kind, 'synced', store.size(kind));
  return {
    informers: undefined,
    kc: undefined,
    store,
    synced: () => true,
    pending: () => [],
    stop: () => {},
    namespaceLookup: undefined,
    description: o.clusterState ? `standalone (${o.clusterState})` : 'standalone (empty cluster)',
    onSnapshotState,
  };
}
