import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      // Property tests run thousands of cases: CPU-bound, so on a busy shared machine they can pass 5 s.
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'], testTimeout: 30_000 } },
      { test: { name: 'integration', include: ['test/integration/**/*.test.ts'], testTimeout: 30_000 } },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 2_400_000,
          sequence: { concurrent: false },
          // One etcd + kube-apiserver for every e2e file (test/e2e/control-plane.ts), and the files one
          // after another: they share that API server and cluster-wide webhooks. Vitest runs a project
          // without file parallelism last, once the unit and integration files are done.
          globalSetup: ['test/e2e/control-plane.ts'],
          fileParallelism: false,
        },
      },
    ],
  },
});
