import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { bindMigrationAwareSqlAdapterFactory } from '@prisma/driver-adapter-utils';
import type { SchemaEngine } from '@prisma/schema-engine-wasm';

// @types/node does not declare the WebAssembly global; this is the slice we use.
type WasmExports = Record<string, unknown>;
interface WasmApi {
  compile(bytes: Uint8Array): Promise<object>;
  instantiate(module: object, imports: Record<string, Record<string, unknown>>): Promise<{ exports: WasmExports }>;
  Module: { imports(module: object): Array<{ module: string; name: string }> };
}
const WebAssembly = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

type EngineModule = typeof import('@prisma/schema-engine-wasm') & {
  __wbg_set_wasm(exports: WasmExports): void;
};

let loaded: Promise<EngineModule> | undefined;

// Prisma's schema engine compiled to wasm: the CLI's native engine is downloaded from outside the
// npm registry, which locked-down machines cannot reach. Instantiating the module by hand (instead
// of importing the package entry, which needs --experimental-wasm-modules) keeps node flag-free.
function loadEngineModule(): Promise<EngineModule> {
  loaded ??= (async () => {
    // createRequire rather than import.meta.resolve: test runners' module loaders lack the latter.
    const bgUrl = pathToFileURL(
      createRequire(import.meta.url).resolve('@prisma/schema-engine-wasm/schema_engine_bg'),
    ).href;
    const bg = (await import(bgUrl)) as EngineModule & Record<string, unknown>;
    const wasm = await WebAssembly.compile(await readFile(new URL('./schema_engine_bg.wasm', bgUrl)));
    const imports: Record<string, Record<string, unknown>> = {};
    for (const imp of WebAssembly.Module.imports(wasm)) {
      imports[imp.module] ??= {};
      const table = imports[imp.module] as Record<string, unknown>;
      table[imp.name] = bg[imp.name];
    }
    const instance = await WebAssembly.instantiate(wasm, imports);
    bg.__wbg_set_wasm(instance.exports);
    (instance.exports.__wbindgen_start as () => void)();
    return bg;
  })();
  return loaded;
}

export interface EngineHandle {
  engine: SchemaEngine;
  close(): Promise<void>;
}

export async function openSchemaEngine(
  connectionString: string,
  schema: { path: string; content: string },
  log: (line: string) => void = () => {},
): Promise<EngineHandle> {
  const mod = await loadEngineModule();
  // Our own pool, so closing it releases the engine's session-level advisory lock at once.
  const pool = new pg.Pool({ connectionString, max: 2 });
  const factory = bindMigrationAwareSqlAdapterFactory(new PrismaPg(pool));
  const engine = await mod.SchemaEngine.new(
    { datamodels: [[schema.path, schema.content]] },
    (line: string) => log(line),
    factory,
  );
  return {
    engine,
    async close() {
      engine.free();
      await pool.end();
    },
  };
}

export const noFilters = { externalTables: [], externalEnums: [] };
