import { pino } from 'pino';
import { Writable } from 'node:stream';
import type { KubeObject } from '../../src/kube.js';
import { ClusterStore } from '../../src/cluster/snapshot.js';
import { escapeLineSeparators } from '../../src/client-text.js';
import { buildApp, type AppOptions } from '../../src/server/app.js';
import { createMetrics } from '../../src/server/metrics.js';
import type { Policy } from '../../src/policy/types.js';
import { policy as defaultPolicy } from './objects.js';

/** An in-process app (plain HTTP, driven with inject) whose log lines are captured for assertions. */
export function testApp(objects: KubeObject[] = [], policy: Policy = defaultPolicy, ready = true, options: Partial<AppOptions> = {}) {
  const lines: any[] = [];
  const raw: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const line of chunk.toString().split('\n')) {
        if (!line) continue;
        raw.push(line);
        lines.push(JSON.parse(line));
      }
      done();
    },
  });
  const metrics = createMetrics();
  const store = new ClusterStore(objects);
  const app = buildApp({
    policy,
    store,
    readiness: { ready: () => ready, pending: () => (ready ? [] : ['cache Namespace not synced']) },
    metrics,
    log: pino({ level: 'info', hooks: { streamWrite: escapeLineSeparators } }, sink),
    ...options,
  });
  return { app, lines, raw, metrics, store };
}
