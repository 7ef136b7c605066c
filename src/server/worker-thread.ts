import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * Starts the worker module at `path` under src/ (`server/re2-worker`): in dist/ when built, in src/
 * under vitest. There the worker runs TypeScript with Node's type stripping, which does not map the
 * sources' `./x.js` imports to their `./x.ts` files: a resolve hook in the worker does.
 */
export function startWorker(path: string, options: WorkerOptions): Worker {
  const ext = extname(fileURLToPath(import.meta.url));
  const url = new URL(`../${path}${ext}`, import.meta.url);
  if (ext !== '.ts') return new Worker(url, options);
  const bootstrap = `
const { registerHooks } = require('node:module');
registerHooks({
  resolve(specifier, context, next) {
    try { return next(specifier, context); } catch (err) {
      if (specifier.endsWith('.js') && context.parentURL?.endsWith('.ts')) return next(specifier.slice(0, -3) + '.ts', context);
      throw err;
    }
  },
});
import(${JSON.stringify(url.href)});
`;
  return new Worker(bootstrap, { ...options, eval: true });
}
