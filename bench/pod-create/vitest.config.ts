// `npm run bench:e2e`: the Pod CREATE benchmark on the e2e control plane (real kube-apiserver and
// etcd, test/e2e/control-plane.ts). Not part of `npm test`: it takes minutes and asserts no threshold.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  root: fileURLToPath(new URL('../..', import.meta.url)),
  test: {
    include: ['bench/pod-create/*.bench-e2e.ts'],
    testTimeout: 1_800_000,
    hookTimeout: 2_400_000,
    globalSetup: ['test/e2e/control-plane.ts'],
    fileParallelism: false,
  },
});
