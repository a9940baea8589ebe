import { defineConfig } from 'vitest/config';

// buf compiles the .proto files in-process; a cold run takes a few seconds.
export default defineConfig({ test: { testTimeout: 60_000 } });
