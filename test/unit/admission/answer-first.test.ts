import type { ServerResponse } from 'node:http';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { escapeLineSeparators } from '../../../src/client-text.js';
import { testApp } from '../../helpers/app.js';
import { namespace, pod, podReview } from '../../helpers/objects.js';

// kube-apiserver waits for the answer, not for meshguard's bookkeeping: each decision's response is
// ended before its audit line is written (and its metrics counted), and the line is still written.
const cluster = [namespace('shop', { 'istio.io/dataplane-mode': 'ambient' })];
const cases: Array<[string, string, unknown, string]> = [
  ['mutate, patched', '/mutate', podReview('shop', pod()), 'patched'],
  ['validate, allowed', '/validate', podReview('shop', pod()), 'allowed'],
  ['validate, denied', '/validate', podReview('shop', pod({ labels: { 'istio.io/use-waypoint': 'nope' } })), 'denied'],
];

describe('the answer goes out before the audit line', () => {
  let close: (() => Promise<void>) | undefined;
  afterEach(async () => close?.());

  it.each(cases)('%s', async (_name, url, body, result) => {
    let response: ServerResponse | undefined;
    const audits: Array<{ result: string; answerEnded: boolean | undefined }> = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        for (const line of chunk.toString().split('\n').filter(Boolean)) {
          const record = JSON.parse(line);
          if (record.msg === 'admission decision') audits.push({ result: record.result, answerEnded: response?.writableEnded });
        }
        done();
      },
    });
    const { app, metrics } = testApp(cluster, undefined, true, { log: pino({ hooks: { streamWrite: escapeLineSeparators } }, sink) });
    close = () => app.close();
    app.addHook('onRequest', (_req, reply, next) => {
      response = reply.raw;
      next();
    });
    const res = await app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json' }, payload: JSON.stringify(body) });
    expect(res.statusCode).toBe(200);
    expect(res.json().response.allowed).toBe(result !== 'denied');
    expect(audits).toEqual([{ result, answerEnded: true }]);
    expect(await metrics.registry.getSingleMetricAsString('meshguard_admission_requests_total')).toContain(`result="${result}"`);
  });
});
