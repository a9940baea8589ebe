#!/usr/bin/env node
// The SDK ships TypeScript sources, not a build: register tsx's loader, then run the CLI from source.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
