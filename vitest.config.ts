import { defineConfig } from 'vitest/config';

// Tiers by file name:
//   *.test.ts            pure unit tests (no I/O beyond the file system)
//   *.int.test.ts        integration tests on the real stack (Kafka, registry, Postgres)
//   test/*.e2e.test.ts   end-to-end tests across services, also on the real stack
const integrationFiles = ['**/*.int.test.ts', 'test/**/*.e2e.test.ts'];
const ignored = ['**/node_modules/**', '**/.local/**'];
// *.fault.int.test.ts stop and start the broker or Postgres, which only the managed native stack allows. On a
// stack named by the three endpoint variables (e.g. the compose stack) or on TEST_STACK=containers they are left out, and the global
// setup says so in its first line.
const externalStack = Boolean(
  (process.env['KAFKA_BROKERS'] && process.env['SCHEMA_REGISTRY_URL'] && process.env['DATABASE_URL']) ||
  process.env['TEST_STACK'] === 'containers',
);
// *.managed.int.test.ts need the managed native stack too (its SASL_SSL listener and throwaway CA).
const faultFiles = externalStack ? ['**/*.fault.int.test.ts', '**/*.managed.int.test.ts'] : [];
// Files that stop the broker or Postgres run alone, after the others.
const stopsTheStack = ['**/*.fault.int.test.ts'];

export default defineConfig({
  test: {
    // Two cores: at most two test files at once (the integration project's fault files one at a time, below).
    poolOptions: { forks: { maxForks: 2 } },
    passWithNoTests: true,
    projects: [
      {
        test: {
          name: 'unit',
          include: ['**/*.test.ts'],
          exclude: [...ignored, ...integrationFiles],
          environment: 'node',
          // Unit tests run in parallel on two cores; a CPU-bound test (fuzz, corpus) must not fail on a busy
          // machine because of the 5 s default. Speed is measured by the benchmarks, not by test timeouts.
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: integrationFiles,
          exclude: [...ignored, ...faultFiles, ...stopsTheStack],
          environment: 'node',
          globalSetup: ['./packages/testkit/src/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          // Two files at a time: each isolates itself (own topics, groups, schemas); none stops the stack.
          pool: 'forks',
          sequence: { groupOrder: 0 },
        },
      },
      {
        test: {
          name: 'integration-faults',
          include: externalStack ? [] : stopsTheStack,
          exclude: ignored,
          environment: 'node',
          globalSetup: ['./packages/testkit/src/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          // One file at a time, after the others: these stop the shared broker or Postgres.
          pool: 'forks',
          poolOptions: { forks: { singleFork: true } },
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
