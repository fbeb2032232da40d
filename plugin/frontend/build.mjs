// Builds the plugin's frontend into ../dist (the folder Grafana loads):
// a typecheck, module.js as an AMD module, and plugin.json (version and date
// filled in), img/, README.md, CHANGELOG.md and the dashboards that
// plugin.json includes. Other files in ../dist (the
// backend binaries) are left alone.
//
//   node build.mjs            typecheck + bundle + copy
//   node build.mjs --no-check skip the typecheck
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
const pluginDir = join(here, '..');
const dist = join(pluginDir, 'dist');

// Modules Grafana provides to plugins at run time; the bundle must not include them.
export const EXTERNALS = [
  'react',
  'react-dom',
  'react/jsx-runtime',
  '@grafana/data',
  '@grafana/ui',
  '@grafana/runtime',
  '@emotion/css',
  '@emotion/react',
  'rxjs',
  'lodash',
  'moment',
  'react-router',
  'react-router-dom',
];

function step(name, fn) {
  const t0 = performance.now();
  const r = fn();
  console.log(`${name}: ${((performance.now() - t0) / 1000).toFixed(2)}s`);
  return r;
}

if (!process.argv.includes('--no-check')) {
  step('typecheck (tsc)', () =>
    execFileSync(process.execPath, [join(here, 'node_modules/typescript/bin/tsc'), '-p', here], { stdio: 'inherit' })
  );
}

const res = await esbuild.build({
  entryPoints: [join(here, 'src/module.ts')],
  bundle: true,
  format: 'cjs',
  platform: 'browser',
  target: 'es2020',
  jsx: 'transform',
  external: EXTERNALS,
  minify: true,
  write: false,
  logLevel: 'warning',
});
const body = res.outputFiles[0].text;
// The AMD dependencies are the modules the bundle really require()s. The
// metafile would also list type-only imports that esbuild erased, which
// Grafana would then fail to load.
const deps = [...new Set([...body.matchAll(/\brequire\("([^"]+)"\)/g)].map((m) => m[1]))].sort();
const unexpected = deps.filter((d) => !EXTERNALS.includes(d));
if (unexpected.length) {
  throw new Error(`module.js would require modules Grafana does not provide: ${unexpected.join(', ')}`);
}
const amd =
  `define(${JSON.stringify(deps)},function(){var __d=arguments,__n=${JSON.stringify(deps)};` +
  `function require(n){var i=__n.indexOf(n);if(i<0)throw new Error("AMD dependency not declared: "+n);return __d[i];}` +
  `var module={exports:{}},exports=module.exports;\n${body}\nreturn module.exports;});\n`;

mkdirSync(dist, { recursive: true });
writeFileSync(join(dist, 'module.js'), amd);

const pkg = JSON.parse(readFileSync(join(here, 'package.json'), 'utf8'));
const today = new Date().toISOString().slice(0, 10);
const pluginJson = readFileSync(join(pluginDir, 'plugin.json'), 'utf8').replaceAll('%VERSION%', pkg.version).replaceAll('%TODAY%', today);
JSON.parse(pluginJson); // still JSON
writeFileSync(join(dist, 'plugin.json'), pluginJson);
cpSync(join(pluginDir, 'img'), join(dist, 'img'), { recursive: true });
for (const f of ['README.md', 'CHANGELOG.md']) {
  cpSync(join(pluginDir, f), join(dist, f));
}
// The dashboards that plugin.json includes ship inside the plugin, so that
// Grafana offers to import them on the data source's Dashboards tab.
for (const inc of JSON.parse(pluginJson).includes ?? []) {
  if (inc.type === 'dashboard') {
    mkdirSync(join(dist, dirname(inc.path)), { recursive: true });
    cpSync(join(pluginDir, '..', inc.path), join(dist, inc.path));
  }
}
console.log(`dist/module.js: ${amd.length} bytes, define(${JSON.stringify(deps)}); plugin ${pkg.version} (${today}) in ${dist}`);
