import { defineConfig } from 'vitest/config';

// Tiers by file name:
//   *.test.ts            pure unit tests (no I/O beyond the file system)
//   *.int.test.ts        integration tests on the real stack (Kafka, registry, Postgres)
//   test/*.e2e.test.ts   end-to-end tests across services, also on the real stack
const integrationFiles = ['**/*.int.test.ts', 'test/**/*.e2e.test.ts'];
const ignored = ['**/node_modules/**', '**/.local/**'];

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['**/*.test.ts'],
          exclude: [...ignored, ...integrationFiles],
          environment: 'node',
        },
      },
      {
        test: {
          name: 'integration',
          include: integrationFiles,
          exclude: ignored,
          environment: 'node',
          globalSetup: ['./packages/testkit/src/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          // One file at a time: fault-injection tests stop the shared broker or Postgres, and two
          // cores already host the broker, the registry and Postgres.
          pool: 'forks',
          poolOptions: { forks: { singleFork: true } },
        },
      },
    ],
  },
});
