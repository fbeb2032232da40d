// A page that loads the real plugin/dist/module.js the way Grafana does (an
// AMD define() whose dependencies the page supplies: react, @grafana/data,
// @grafana/ui, @grafana/runtime, rxjs) and renders one of its editors in a
// Grafana theme. Every onChange model is reported to window.onEditorChange
// (a function the test exposes) and kept in window.__model.
//
//   index.html?editor=query|config|variable&theme=light|dark
import * as React from 'react';
import * as ReactDOM from 'react-dom';
import { createRoot } from 'react-dom/client';
import * as GrafanaData from '@grafana/data';
import * as GrafanaUI from '@grafana/ui';
import * as GrafanaRuntime from '@grafana/runtime';
import * as rxjs from 'rxjs';

import { templateSrv } from '../test/lib/templatesrv.mjs';

declare global {
  interface Window {
    define: (deps: string[], factory: (...mods: unknown[]) => { plugin: GrafanaData.DataSourcePlugin<any, any, any> }) => void;
    onEditorChange?: (kind: string, json: string) => void;
    __model?: unknown;
    __runs: number;
    __harness: Record<string, unknown>;
  }
}

const MODS: Record<string, unknown> = {
  react: React,
  'react-dom': ReactDOM,
  '@grafana/data': GrafanaData,
  '@grafana/ui': GrafanaUI,
  '@grafana/runtime': GrafanaRuntime,
  rxjs,
};

// Grafana's services that the plugin uses: template variables and HTTP to
// Grafana's API (which this page's server answers for the data source's
// resources).
GrafanaRuntime.setTemplateSrv(templateSrv({ user: ['alice', 'bob'], source: 'tidb-prod' }) as any);
GrafanaRuntime.setBackendSrv({
  fetch(options: any) {
    return rxjs.from(
      (async () => {
        const qs = new URLSearchParams();
        for (const [k, v] of Object.entries(options.params ?? {})) {
          for (const x of ([] as unknown[]).concat(v)) {
            qs.append(k, String(x));
          }
        }
        const url = options.url + (qs.toString() ? '?' + qs : '');
        const res = await fetch(url, { method: options.method ?? 'GET', headers: options.headers });
        const data = await res.json().catch(() => undefined);
        if (!res.ok) {
          throw { status: res.status, statusText: res.statusText, data };
        }
        return { data, status: res.status, statusText: res.statusText, ok: true, headers: res.headers, url, redirected: false, type: 'basic', config: options };
      })()
    );
  },
} as any);

const params = new URLSearchParams(location.search);
const editor = params.get('editor') ?? 'query';
const mode = params.get('theme') === 'dark' ? 'dark' : 'light';
const theme = GrafanaData.createTheme({ colors: { mode } });

function report(kind: string, model: unknown) {
  window.__model = model;
  window.onEditorChange?.(kind, JSON.stringify(model));
}

const instanceSettings = {
  id: 1,
  uid: 'dbsec',
  type: 'dbsec-audit-datasource',
  name: 'dbsec',
  access: 'proxy',
  readOnly: false,
  jsonData: {},
  meta: { id: 'dbsec-audit-datasource', name: 'dbsec', type: 'datasource', module: 'module.js', baseUrl: '', info: {} },
} as any;

function App({ plugin }: { plugin: GrafanaData.DataSourcePlugin<any, any, any> }) {
  const ds = React.useMemo(() => new (plugin.DataSourceClass as any)(instanceSettings), [plugin]);
  window.__harness = { ds, plugin, GrafanaData };
  const range = React.useMemo(() => GrafanaData.getDefaultTimeRange(), []);
  const [query, setQuery] = React.useState<any>({ refId: 'A', ...ds.getDefaultQuery(GrafanaData.CoreApp.PanelEditor) });
  const [varQuery, setVarQuery] = React.useState<any>(undefined);
  const [options, setOptions] = React.useState<any>({
    id: 1,
    uid: 'dbsec',
    orgId: 1,
    name: 'dbsec',
    type: 'dbsec-audit-datasource',
    typeName: 'dbsec',
    typeLogoUrl: '',
    access: 'proxy',
    url: '',
    user: '',
    database: '',
    basicAuth: false,
    basicAuthUser: '',
    isDefault: false,
    jsonData: {},
    secureJsonFields: {},
    readOnly: false,
    withCredentials: false,
  });
  const { QueryEditor, ConfigEditor, VariableQueryEditor } = plugin.components as any;

  let body: React.ReactNode;
  if (editor === 'config') {
    body = <ConfigEditor options={options} onOptionsChange={(o: any) => { setOptions(o); report('config', o); }} />;
  } else if (editor === 'variable') {
    body = (
      <VariableQueryEditor
        datasource={ds}
        query={varQuery}
        onChange={(q: any, definition: string) => { setVarQuery(q); report('variable', { query: q, definition }); }}
      />
    );
  } else {
    body = (
      <QueryEditor
        datasource={ds}
        query={query}
        range={range}
        onChange={(q: any) => { setQuery(q); report('query', q); }}
        onRunQuery={() => { window.__runs++; }}
      />
    );
  }
  return (
    <GrafanaData.ThemeContext.Provider value={theme}>
      <GrafanaUI.GlobalStyles />
      <div id="editor" style={{ padding: 16, width: 960 }}>
        <h3 id="title">dbsec — {editor} editor ({mode})</h3>
        {body}
      </div>
    </GrafanaData.ThemeContext.Provider>
  );
}

window.__runs = 0;
window.define = (deps, factory) => {
  const missing = deps.filter((d) => !(d in MODS));
  if (missing.length) {
    throw new Error('module.js needs modules the page does not provide: ' + missing.join(', '));
  }
  const { plugin } = factory(...deps.map((d) => MODS[d]));
  createRoot(document.getElementById('root')!).render(<App plugin={plugin} />);
};
const s = document.createElement('script');
s.src = 'module.js';
document.body.appendChild(s);
