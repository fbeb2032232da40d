// Builds the editor harness page (harness/) with esbuild and serves it, the
// real plugin/dist/module.js and the data source's backend resources
// (fixtures) from a node:http server on 127.0.0.1.
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, normalize } from 'node:path';
import * as esbuild from 'esbuild';

import { FRONTEND, PLUGIN } from './bundle.mjs';

export const OUT = join(FRONTEND, '.cache', 'harness');

// @grafana/ui 12.0.0's ESM build has re-exports esbuild rejects; use the CJS
// builds of every @grafana package (all of them, so that there is one
// @grafana/data and so one ThemeContext).
const grafanaCjs = {
  name: 'grafana-cjs',
  setup(b) {
    b.onResolve({ filter: /^@grafana\// }, async (a) => {
      if (a.pluginData === 'cjs') {
        return undefined;
      }
      const r = await b.resolve(a.path, { kind: 'require-call', resolveDir: a.resolveDir, pluginData: 'cjs' });
      return r.errors.length ? { errors: r.errors } : { path: r.path, sideEffects: r.sideEffects };
    });
  },
};

export async function buildHarness() {
  rmSync(OUT, { recursive: true, force: true });
  mkdirSync(OUT, { recursive: true });
  await esbuild.build({
    entryPoints: { harness: join(FRONTEND, 'harness', 'harness.tsx') },
    outdir: OUT,
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'es2020',
    jsx: 'transform',
    minify: true,
    define: { 'process.env.NODE_ENV': '"production"', global: 'window' },
    loader: { '.ttf': 'file', '.woff': 'file', '.woff2': 'file', '.svg': 'file', '.png': 'file' },
    plugins: [grafanaCjs],
    logLevel: 'error',
  });
  const css = existsSync(join(OUT, 'harness.css')) ? '<link rel="stylesheet" href="harness.css">' : '';
  writeFileSync(join(OUT, 'index.html'), readFileSync(join(FRONTEND, 'harness', 'index.html'), 'utf8').replace('<!--CSS-->', css));
  // Icons: @grafana/ui 12 looks under public/img/icons, 13 under public/build/img/icons.
  const img = join(FRONTEND, 'node_modules', '@grafana', 'ui', 'dist', 'public', 'img');
  cpSync(img, join(OUT, 'public', 'img'), { recursive: true });
  cpSync(img, join(OUT, 'public', 'build', 'img'), { recursive: true });
  // Grafana serves the loading spinner icon from its own public folder; @grafana/ui does not ship it.
  for (const dir of ['img', join('build', 'img')]) {
    cpSync(join(FRONTEND, 'harness', 'spinner.svg'), join(OUT, 'public', dir, 'icons', 'unicons', 'spinner.svg'));
  }
}

/** What the fake backend answers for the data source's resources. */
export const FIXTURES = {
  values: {
    user: ['alice', 'bob', 'carol'],
    source: ['tidb-prod', 'pg-main'],
    client_ip: ['10.0.0.1', '10.0.0.2'],
    action: ['GRANT', 'DROP TABLE', 'SELECT'],
    digest: ['3f2a', '9b1c'],
    connection_id: ['17', '42'],
    target: ['/etc/mysql/my.cnf'],
  },
  keys: ['source', 'system', 'category', 'outcome', 'action', 'user', 'client_ip', 'digest', 'rule', 'connection_id'],
  rules: [
    { id: 'DBSEC-001', name: 'failed_login_burst', severity: 'high', title: 'Burst of failed logins' },
    { id: 'DBSEC-007', name: 'grant_all', severity: 'critical', title: 'GRANT ALL to a user' },
  ],
};

const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml', '.png': 'image/png', '.json': 'application/json' };

/** Starts the server; resolves to { base, requests, close }. requests logs each resource call. */
export function serve() {
  const requests = [];
  const prefix = '/api/datasources/uid/dbsec/resources/';
  const server = createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    const send = (code, type, body) => {
      res.writeHead(code, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    };
    if (url.pathname.startsWith(prefix)) {
      const path = url.pathname.slice(prefix.length);
      const params = {};
      for (const [k, v] of url.searchParams) {
        params[k] = k in params ? [].concat(params[k], v) : v;
      }
      requests.push({ path, params, headers: { pluginId: req.headers['x-plugin-id'], dsUid: req.headers['x-datasource-uid'] } });
      let body;
      if (path === 'keys') body = FIXTURES.keys;
      else if (path === 'rules') body = FIXTURES.rules;
      else if (path.startsWith('values/')) body = FIXTURES.values[decodeURIComponent(path.slice(7))] ?? [];
      if (body === undefined) {
        return send(404, 'application/json', JSON.stringify({ message: 'no such resource: ' + path }));
      }
      return send(200, 'application/json', JSON.stringify(body));
    }
    let file;
    if (url.pathname === '/' || url.pathname === '/index.html') file = join(OUT, 'index.html');
    else if (url.pathname === '/module.js') file = join(PLUGIN, 'dist', 'module.js');
    else file = normalize(join(OUT, decodeURIComponent(url.pathname)));
    if (!file.startsWith(OUT) && !file.startsWith(join(PLUGIN, 'dist')) ) {
      return send(403, 'text/plain', 'forbidden');
    }
    if (!existsSync(file)) {
      return send(404, 'text/plain', 'not found');
    }
    send(200, TYPES[extname(file)] ?? 'application/octet-stream', readFileSync(file));
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      resolve({ base: `http://127.0.0.1:${port}/`, requests, close: () => new Promise((r) => server.close(r)) });
    });
  });
}
