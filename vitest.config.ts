import { defineConfig } from 'vitest/config';

// CI sets CODESEARCH_TEST_REPORT to a path: vitest then also writes its JSON report there,
// from which .ci/run prints the "N passed, N failed" line.
const report = process.env.CODESEARCH_TEST_REPORT;

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: report ? ['default', ['json', { outputFile: report }]] : ['default'],
  },
});
