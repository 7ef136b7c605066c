#!/usr/bin/env node
// Each command loads only what it needs: `check` runs once per pre-commit hook or CI step, so it
// must not pay for the server stack (Fastify, client-node, pino, prom-client, selfsigned).
// test/integration/cli-imports.test.ts holds that boundary.
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const USAGE = `meshguard: admission webhook that keeps Istio ambient mesh safe

Usage:
  meshguard serve [--port 8443] [--metrics-port 9090] [--tls-cert FILE --tls-key FILE]
                  [--policy FILE] [--istio-version 1.N] [--kubeconfig FILE | --cluster-state DIR] [--log-level info]
                  [--shutdown-delay 5s] [--max-connections 1000] [--audit-interval 5m (0: off)]
                  [--reports openreports|wgpolicyk8s|none] [--pod-checks mutating|validating]
  meshguard check [--policy FILE] [--istio-version 1.N] [--format text|json|sarif] PATH...
  meshguard audit [--kubeconfig FILE | --cluster-state DIR] [--namespace NS]... [--policy FILE]
                  [--istio-version 1.N] [--format text|json|sarif] [--fail-on error|warning|never]
  meshguard plan [--kubeconfig FILE | --cluster-state PATH...] [--namespace NS]... [--format text|json|html] [--out FILE]
  meshguard certs --out DIR [--dns NAME,...] [--ip ADDR,...]
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve':
      return serveCommand(rest);
    case 'check': {
      const { runCheck } = await import('./check/command.js');
      return runCheck(rest);
    }
    case 'audit': {
      const { runAudit } = await import('./cluster-audit/command.js');
      return runAudit(rest);
    }
    case 'plan': {
      const { runPlan } = await import('./plan/command.js');
      return runPlan(rest);
    }
    case 'certs':
      return certsCommand(rest);
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      process.stdout.write(USAGE);
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`meshguard: unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}

async function serveCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      host: { type: 'string' },
      port: { type: 'string', default: '8443' },
      'metrics-port': { type: 'string' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      'certs-dir': { type: 'string', default: 'certs' },
      policy: { type: 'string' },
      'istio-version': { type: 'string' },
      kubeconfig: { type: 'string' },
      'cluster-state': { type: 'string' },
      'log-level': { type: 'string', default: 'info' },
      'shutdown-delay': { type: 'string', default: '5s' },
      'max-connections': { type: 'string', default: '1000' },
      'audit-interval': { type: 'string', default: '5m' },
      reports: { type: 'string', default: 'none' },
      'pod-checks': { type: 'string', default: 'mutating' },
    },
  });
  const shutdownDelayMs = duration(values['shutdown-delay'], '--shutdown-delay');
  // A day at most; 0 turns the background audit off.
  const auditIntervalMs = duration(values['audit-interval'], '--audit-interval', 86_400_000);
  const [{ default: closeWithGrace }, { destination, pino }, { escapeLineSeparators }, { serve }, { REPORT_APIS }, { POD_CHECKS_AT }] = await Promise.all([
    import('close-with-grace'),
    import('pino'),
    import('./client-text.js'),
    import('./server/main.js'),
    import('./cluster-audit/report-objects.js'),
    import('./mutate/admit-pod.js'),
  ]);
  const podChecksAt = POD_CHECKS_AT.find((at) => at === values['pod-checks']);
  if (!podChecksAt) throw new UsageError(`--pod-checks must be one of ${POD_CHECKS_AT.join(', ')}, got "${values['pod-checks']}"`);
  const reports = REPORT_APIS.find((api) => api === values.reports);
  if (!reports) throw new UsageError(`--reports must be one of ${REPORT_APIS.join(', ')}, got "${values.reports}"`);
  const maxConnections = Number(values['max-connections']);
  if (!Number.isInteger(maxConnections) || maxConnections < 1)
    throw new UsageError(`--max-connections must be a whole number of at least 1, got "${values['max-connections']}"`);
  // Asynchronous stdout: under load, audit lines are batched into few writes instead of one write
  // syscall per request. sonic-boom flushes synchronously when the process exits, so no line is lost.
  const log = pino({ level: values['log-level'], hooks: { streamWrite: escapeLineSeparators } }, destination({ dest: 1, sync: false }));
  const running = await serve({
    host: values.host,
    port: portNumber(values.port, '--port'),
    metricsPort: values['metrics-port'] === undefined ? undefined : portNumber(values['metrics-port'], '--metrics-port'),
    tlsCert: values['tls-cert'],
    tlsKey: values['tls-key'],
    certsDir: values['certs-dir'],
    policyFile: values.policy,
    istioVersion: values['istio-version'],
    kubeconfig: values.kubeconfig,
    clusterState: values['cluster-state'],
    shutdownDelayMs,
    maxConnections,
    podChecksAt,
    auditIntervalMs,
    reports,
    log,
  });
  // SIGTERM: serve on for the shutdown delay, then stop accepting, finish in-flight requests, exit 0.
  // The chart's terminationGracePeriodSeconds is the delay plus this 20 s for the drain, plus margin.
  closeWithGrace({ delay: shutdownDelayMs + 20_000, logger: { error: (m: unknown) => log.error(m) } }, async ({ signal, err }) => {
    if (err) log.error({ err }, 'fatal error, shutting down');
    else log.info({ signal }, 'shutting down');
    await running.close();
  });
  return -1;
}

async function certsCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { out: { type: 'string' }, dns: { type: 'string' }, ip: { type: 'string' } },
  });
  if (!values.out) throw new UsageError('certs needs --out DIR');
  const { generateCertificates } = await import('./server/tls.js');
  const list = (s: string | undefined) => s?.split(',').map((x) => x.trim()).filter(Boolean);
  const { ca, server } = await generateCertificates(list(values.dns), list(values.ip));
  mkdirSync(values.out, { recursive: true });
  writeFileSync(join(values.out, 'ca.crt'), ca.cert);
  writeFileSync(join(values.out, 'ca.key'), ca.key, { mode: 0o600 });
  writeFileSync(join(values.out, 'tls.crt'), server.cert);
  writeFileSync(join(values.out, 'tls.key'), server.key, { mode: 0o600 });
  process.stdout.write(`wrote ca.crt, ca.key, tls.crt, tls.key to ${values.out}\n`);
  return 0;
}

class UsageError extends Error {}

/** `5`, `5s` or `500ms` (a number alone is seconds) -> milliseconds. */
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** A duration such as 5s, 500ms, 5m or 1h (seconds without a unit), at most `maxMs`. */
function duration(value: string, flag: string, maxMs = 600_000): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(value.trim());
  const ms = m ? Number(m[1]) * UNIT_MS[m[2] ?? 's'] : NaN;
  if (!Number.isFinite(ms) || ms > maxMs)
    throw new UsageError(`${flag} must be a duration such as 5s or 500ms (or 5m, 1h; at most ${maxMs / 60_000} minutes), got "${value}"`);
  return Math.round(ms);
}

function portNumber(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new UsageError(`${flag} must be a port number, got "${value}"`);
  return n;
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (err: Error) => {
    const usage = err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    process.stderr.write(`meshguard: ${err.message}\n`);
    process.exitCode = usage ? 2 : 1;
  },
);
