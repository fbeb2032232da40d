// Compiles a TypeScript module of src/ for node with esbuild and imports it,
// so the tests run the very sources the plugin is built from.
import { mkdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';

export const FRONTEND = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const PLUGIN = join(FRONTEND, '..');
export const REPO = join(PLUGIN, '..');

export async function importSource(rel) {
  const out = join(FRONTEND, '.cache', basename(rel).replace(/\.tsx?$/, '') + '.mjs');
  mkdirSync(dirname(out), { recursive: true });
  await esbuild.build({
    entryPoints: [join(FRONTEND, rel)],
    outfile: out,
    bundle: true,
    format: 'esm',
    platform: 'node',
    packages: 'external',
    logLevel: 'error',
  });
  return import(pathToFileURL(out).href + '?t=' + Date.now());
}
