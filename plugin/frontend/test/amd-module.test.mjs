// dist/module.js loaded the way Grafana loads a plugin: an AMD define()
// whose dependencies Grafana supplies. Real @grafana/data, react and rxjs;
// @grafana/runtime and @grafana/ui need a browser, so they are stood in for
// here (the browser test loads the real ones).
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { before, test } from 'node:test';

import { FRONTEND, PLUGIN } from './lib/bundle.mjs';
import { templateSrv } from './lib/templatesrv.mjs';

const require = createRequire(join(FRONTEND, 'package.json'));

// What Grafana provides to plugins through SystemJS (the ones module.js may name).
const GRAFANA_PROVIDES = [
  'react', 'react-dom', 'react/jsx-runtime', '@grafana/data', '@grafana/ui', '@grafana/runtime',
  '@emotion/css', '@emotion/react', 'rxjs', 'lodash', 'moment', 'react-router', 'react-router-dom',
];

let data;
let declared;
let plugin;
const resourceCalls = [];
const queryRequests = [];

before(() => {
  const file = join(PLUGIN, 'dist', 'module.js');
  assert.ok(existsSync(file), 'plugin/dist/module.js is missing: run node build.mjs first');
  // @grafana/data touches window and localStorage when it is loaded.
  const mem = new Map();
  globalThis.window ??= globalThis;
  globalThis.addEventListener ??= () => {};
  globalThis.removeEventListener ??= () => {};
  globalThis.localStorage ??= { getItem: (k) => mem.get(k) ?? null, setItem: (k, v) => mem.set(k, String(v)), removeItem: (k) => mem.delete(k) };
  data = require('@grafana/data');

  const srv = templateSrv({ users: ['alice', 'bob'], sys: 'tidb' });
  const rxjs = require('rxjs');
  class DataSourceWithBackend extends data.DataSourceApi {
    query(request) {
      queryRequests.push(request);
      return rxjs.of({ data: [] });
    }
    async getResource(path, params) {
      resourceCalls.push({ path, params });
      return path === 'keys' ? ['user', 'system'] : ['v1', 'v2'];
    }
  }
  const runtime = { DataSourceWithBackend, getTemplateSrv: () => srv };
  const ui = new Proxy({}, { get: (_, name) => (name === '__esModule' ? false : function Stub() { return null; }) });
  const mods = { '@grafana/data': data, '@grafana/runtime': runtime, '@grafana/ui': ui, react: require('react'), rxjs };

  let exported;
  const define = (deps, factory) => {
    declared = deps;
    exported = factory(...deps.map((d) => {
      assert.ok(d in mods, `module.js depends on ${d}, which this test does not supply`);
      return mods[d];
    }));
  };
  new Function('define', readFileSync(file, 'utf8'))(define);
  plugin = exported?.plugin;
});

test('module.js is one AMD define() of modules Grafana provides', () => {
  assert.ok(Array.isArray(declared) && declared.length > 0);
  for (const d of declared) assert.ok(GRAFANA_PROVIDES.includes(d), `Grafana does not provide ${d}`);
  assert.ok(!declared.includes('@grafana/schema'), 'type-only imports must not become dependencies');
});

test('it exports a DataSourcePlugin with the config, query and variable editors', () => {
  assert.ok(plugin instanceof data.DataSourcePlugin, 'plugin is a DataSourcePlugin');
  assert.equal(typeof plugin.DataSourceClass, 'function');
  for (const c of ['ConfigEditor', 'QueryEditor', 'VariableQueryEditor']) {
    assert.equal(typeof plugin.components[c], 'function', `${c} is a component`);
  }
});

test('its data source works through the Grafana APIs', async () => {
  const ds = new plugin.DataSourceClass({
    id: 1, uid: 'dbsec', type: 'dbsec-audit-datasource', name: 'dbsec', access: 'proxy', jsonData: {},
    meta: { id: 'dbsec-audit-datasource', name: 'dbsec', type: 'datasource', info: {} },
  });
  assert.deepEqual(ds.getDefaultQuery(data.CoreApp.PanelEditor), { queryType: 'events', format: 'logs' });
  assert.equal(ds.filterQuery({ refId: 'A', hide: true }), false);
  const q = ds.applyTemplateVariables({ refId: 'A', filters: [{ key: 'user', op: '=', value: '$users' }] }, {}, [
    { key: 'system', operator: '=', value: 'mysql' },
  ]);
  assert.deepEqual(q.filters, [
    { key: 'user', op: '=', value: 'alice' },
    { key: 'user', op: '=', value: 'bob' },
    { key: 'system', op: '=', value: 'mysql' },
  ]);
  assert.equal(ds.targetContainsTemplate({ refId: 'A', q: '$sys' }), true);
  assert.deepEqual(ds.modifyQuery({ refId: 'A' }, { type: 'ADD_FILTER_OUT', options: { key: 'user', value: 'root' } }).filters, [
    { key: 'user', op: '!=', value: 'root' },
  ]);
  assert.deepEqual(ds.annotations.getDefaultQuery(), { queryType: 'drift_changes' });
  assert.ok(data.hasLogsContextSupport(ds), 'log context');
  assert.ok(data.hasSupplementaryQuerySupport(ds, data.SupplementaryQueryType.LogsVolume), 'logs volume');
  assert.ok(data.hasQueryModificationSupport(ds), 'query modification');

  resourceCalls.length = 0;
  const found = await ds.metricFindQuery(
    { refId: 'V', queryType: 'values', field: 'client_ip', filters: [{ key: 'system', value: '$sys' }] },
    { range: { from: data.dateTime(1000), to: data.dateTime(2000) } }
  );
  assert.deepEqual(found, [{ text: 'v1', value: 'v1' }, { text: 'v2', value: 'v2' }]);
  assert.deepEqual(resourceCalls, [{ path: 'values/client_ip', params: { from: '1000', to: '2000', system: 'tidb' } }]);
  assert.deepEqual(await ds.getTagKeys(), [{ text: 'user' }, { text: 'system' }]);
});

test('log context and logs volume requests', async () => {
  const ds = new plugin.DataSourceClass({
    id: 1, uid: 'dbsec', type: 'dbsec-audit-datasource', name: 'dbsec', access: 'proxy', jsonData: {},
    meta: { id: 'dbsec-audit-datasource', name: 'dbsec', type: 'datasource', info: {} },
  });
  const t = Date.UTC(2026, 0, 2, 3, 4, 5);
  // A logs row as Grafana builds it: labels from the frame's labels field, other fields by name.
  const row = {
    uid: 'r1',
    rowIndex: 1,
    timeEpochMs: t,
    labels: { source: 'tidb-1', user: 'alice' },
    dataFrame: { fields: [{ name: 'Connection ID', values: ['5', '77'] }] },
  };
  const q = await ds.getLogRowContextQuery(row, { direction: data.LogRowContextQueryDirection.Backward, limit: 30 });
  assert.deepEqual(q.filters, [
    { key: 'source', op: '=', value: 'tidb-1' },
    { key: 'connection_id', op: '=', value: '77' },
  ]);
  assert.equal(q.limit, 30);
  assert.deepEqual(q.datasource, { type: 'dbsec-audit-datasource', uid: 'dbsec' });

  queryRequests.length = 0;
  const res = await ds.getLogRowContext(row, { direction: data.LogRowContextQueryDirection.Forward, limit: 10 });
  assert.deepEqual(res, { data: [] });
  assert.equal(queryRequests.length, 1);
  const req = queryRequests[0];
  assert.equal(req.range.from.valueOf(), t);
  assert.equal(req.range.to.valueOf(), t + 3600 * 1000);
  assert.equal(req.targets[0].queryType, 'events');
  assert.equal(req.targets[0].limit, 10);
  assert.deepEqual(await ds.getLogRowContext({ ...row, labels: {}, dataFrame: { fields: [] } }), { data: [] }, 'no context without identifying fields');

  const vol = ds.getSupplementaryRequest(data.SupplementaryQueryType.LogsVolume, {
    requestId: 'Q1',
    targets: [
      { refId: 'A', queryType: 'events', filters: [{ key: 'user', op: '=', value: 'bob' }] },
      { refId: 'B', queryType: 'top', by: 'user' },
    ],
  });
  assert.equal(vol.requestId, 'Q1_log_volume');
  assert.deepEqual(vol.targets, [{ refId: 'log-volume-A', queryType: 'series', by: 'category', filters: [{ key: 'user', op: '=', value: 'bob' }] }]);
  assert.equal(ds.getSupplementaryRequest(data.SupplementaryQueryType.LogsVolume, { requestId: 'Q2', targets: [{ refId: 'B', queryType: 'top' }] }), undefined);
});
