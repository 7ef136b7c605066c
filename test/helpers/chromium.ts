// Headless Chromium driven over the DevTools protocol with Node's own WebSocket: load a page at a
// given width, collect console errors and exceptions, evaluate expressions, screenshot and print.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const CANDIDATES = ['chromium', 'chromium-browser', 'google-chrome'];

/** The Chromium binary on PATH (Debian's `chromium` package; .ci/run installs it). */
export function chromiumPath(): string {
  for (const name of CANDIDATES) {
    const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).stdout.trim();
    if (found) return found;
  }
  throw new Error(`no Chromium on PATH (looked for ${CANDIDATES.join(', ')}); install Debian's chromium package (apt-get install -y chromium)`);
}

export interface Page {
  /** Console messages of level error, and uncaught exceptions, since the page was opened. */
  errors: string[];
  evaluate<T>(expression: string): Promise<T>;
  screenshot(): Promise<Buffer>;
  pdf(): Promise<Buffer>;
  close(): Promise<void>;
}

interface Message {
  id?: number;
  method?: string;
  sessionId?: string;
  params?: Record<string, unknown>;
  result?: Record<string, unknown>;
  error?: { message: string };
}

export async function openPage(url: string, width: number, height = 900): Promise<Page> {
  const profile = mkdtempSync(join(tmpdir(), 'meshguard-chromium-'));
  const proc: ChildProcess = spawn(
    chromiumPath(),
    ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--hide-scrollbars', `--user-data-dir=${profile}`, '--remote-debugging-address=127.0.0.1', '--remote-debugging-port=0', 'about:blank'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const wsUrl = await new Promise<string>((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error(`Chromium did not start within 30 s:\n${text}`)), 30_000);
    proc.stderr!.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const m = text.match(/DevTools listening on (ws:\/\/\S+)/);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    proc.on('exit', (code) => reject(new Error(`Chromium exited (${code}):\n${text}`)));
  });
  const ws = new WebSocket(wsUrl);
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = () => reject(new Error('cannot connect to Chromium'));
  });
  let nextId = 0;
  const pending = new Map<number, { resolve: (m: Record<string, unknown>) => void; reject: (e: Error) => void }>();
  const listeners: Array<(m: Message) => void> = [];
  ws.onmessage = (event) => {
    const msg = JSON.parse(String(event.data)) as Message;
    if (msg.id !== undefined) {
      const p = pending.get(msg.id);
      pending.delete(msg.id);
      if (msg.error) p?.reject(new Error(msg.error.message));
      else p?.resolve(msg.result ?? {});
    } else listeners.forEach((l) => l(msg));
  };
  const send = (method: string, params: Record<string, unknown> = {}, sessionId?: string) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const id = ++nextId;
      pending.set(id, { resolve, reject });
      ws.send(JSON.stringify({ id, method, params, ...(sessionId && { sessionId }) }));
    });

  const { targetId } = (await send('Target.createTarget', { url: 'about:blank' })) as { targetId: string };
  const { sessionId } = (await send('Target.attachToTarget', { targetId, flatten: true })) as { sessionId: string };
  const errors: string[] = [];
  listeners.push((m) => {
    if (m.sessionId !== sessionId) return;
    const p = m.params ?? {};
    if (m.method === 'Runtime.consoleAPICalled' && p.type === 'error') errors.push(`console.error: ${JSON.stringify(p.args)}`);
    if (m.method === 'Runtime.exceptionThrown') errors.push(`exception: ${JSON.stringify(p.exceptionDetails)}`);
    if (m.method === 'Log.entryAdded' && (p.entry as { level?: string }).level === 'error') errors.push(`log: ${JSON.stringify(p.entry)}`);
  });
  for (const domain of ['Runtime', 'Log', 'Page']) await send(`${domain}.enable`, {}, sessionId);
  await send('Emulation.setDeviceMetricsOverride', { width, height, deviceScaleFactor: 1, mobile: false }, sessionId);
  const loaded = new Promise<void>((resolve) => listeners.push((m) => m.sessionId === sessionId && m.method === 'Page.loadEventFired' && resolve()));
  await send('Page.navigate', { url }, sessionId);
  await loaded;

  return {
    errors,
    async evaluate<T>(expression: string) {
      const r = (await send('Runtime.evaluate', { expression, returnByValue: true }, sessionId)) as { result: { value: T }; exceptionDetails?: unknown };
      if (r.exceptionDetails) throw new Error(`evaluate failed: ${JSON.stringify(r.exceptionDetails)}`);
      return r.result.value;
    },
    async screenshot() {
      const { cssContentSize: size } = (await send('Page.getLayoutMetrics', {}, sessionId)) as { cssContentSize: { width: number; height: number } };
      const clip = { x: 0, y: 0, width: size.width, height: size.height, scale: 1 };
      const r = (await send('Page.captureScreenshot', { format: 'png', captureBeyondViewport: true, clip }, sessionId)) as { data: string };
      return Buffer.from(r.data, 'base64');
    },
    async pdf() {
      const r = (await send('Page.printToPDF', { printBackground: true }, sessionId)) as { data: string };
      return Buffer.from(r.data, 'base64');
    },
    async close() {
      await send('Browser.close').catch(() => undefined);
      ws.close();
      if (proc.exitCode === null) await new Promise((resolve) => proc.once('exit', resolve));
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
