// The editors of the built plugin (plugin/dist/module.js) in real headless
// Chromium (Debian's chromium package, driven with puppeteer-core), used the
// way a person would: choosing query types, adding filters, typing text and
// settings, with every resulting model checked. Screenshots of each editor
// in the light and the dark theme go to artifacts/.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { FRONTEND } from './lib/bundle.mjs';
import { FIXTURES, buildHarness, serve } from './lib/harness.mjs';

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const ARTIFACTS = join(FRONTEND, 'artifacts');
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium && process.env.CI) {
  throw new Error(`${CHROMIUM} is missing: CI must install the Debian package "chromium" (apt-get install chromium)`);
}
const skip = haveChromium ? false : `no Chromium at ${CHROMIUM}: install the Debian package "chromium" (apt-get install chromium) to run the browser tests`;

let browser;
let srv;

before(async () => {
  if (skip) {
    return;
  }
  const { default: puppeteer } = await import('puppeteer-core');
  mkdirSync(ARTIFACTS, { recursive: true });
  await buildHarness();
  srv = await serve();
  browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-dev-shm-usage',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
});

after(async () => {
  await browser?.close();
  await srv?.close();
});

const FONT = /\/fonts\/.*\.(woff2?|ttf)$/; // Grafana's fonts are not on npm; the browser falls back

/** Opens the harness on an editor; collects page errors and console errors (font 404s excepted). */
async function open(editor, theme) {
  const page = await browser.newPage();
  await page.setViewport({ width: 1000, height: 640 });
  const errors = [];
  page.on('pageerror', (e) => errors.push('page error: ' + e.message));
  page.on('console', (m) => {
    if (m.type() === 'error' && !FONT.test(m.location()?.url ?? '')) {
      errors.push(`console error: ${m.text()} (${m.location()?.url ?? ''})`);
    }
  });
  page.on('response', (r) => {
    if (r.status() >= 400 && !FONT.test(r.url())) {
      errors.push(`HTTP ${r.status()} for ${r.url()}`);
    }
  });
  const changes = [];
  await page.exposeFunction('onEditorChange', (kind, json) => changes.push({ kind, model: JSON.parse(json) }));
  await page.goto(`${srv.base}?editor=${editor}&theme=${theme}`, { waitUntil: 'networkidle0' });
  await page.waitForSelector('#editor');
  return { page, errors, changes };
}

/** Waits until the last onChange model satisfies check; returns it. */
async function modelWhere(page, check, what) {
  let last;
  for (let i = 0; i < 300; i++) {
    last = await page.evaluate(() => window.__model);
    if (last !== undefined && check(last)) {
      return last;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`timed out waiting for ${what}; last model: ${JSON.stringify(last)}`);
}

/** Opens a Select by its input id, optionally types to filter, and clicks the option with that text. */
async function choose(page, inputId, label, typed, screenshot) {
  await page.click('#' + inputId);
  if (typed) {
    await page.type('#' + inputId, typed);
  }
  // Suggestions may still be loading; options move when they arrive.
  await page.waitForNetworkIdle({ idleTime: 150, timeout: 15000 });
  const opt = await page.waitForSelector(`[role="option"] ::-p-text(${label})`, { timeout: 15000 });
  if (screenshot) {
    await page.screenshot({ path: join(ARTIFACTS, screenshot), fullPage: true });
  }
  await opt.click();
}

/** Types a value that is not among the options into a Select and creates it with Enter. */
async function create(page, inputId, value) {
  await page.click('#' + inputId);
  await page.type('#' + inputId, value);
  await page.waitForNetworkIdle({ idleTime: 150, timeout: 15000 });
  await page.waitForSelector(`[role="option"] ::-p-text(${value})`, { timeout: 15000 });
  await page.keyboard.press('Enter');
}

/** Clicks the label of a radio button with exactly this text inside scope. */
async function clickRadio(page, scope, text) {
  const handle = await page.evaluateHandle(
    (scope, text) => [...document.querySelectorAll(`${scope} label`)].find((l) => l.textContent.trim() === text),
    scope,
    text
  );
  assert.ok(handle.asElement(), `no radio label "${text}" in ${scope}`);
  await handle.asElement().click();
}

async function retype(page, selector, text) {
  await page.click(selector, { clickCount: 3 });
  await page.keyboard.press('Backspace');
  await page.type(selector, text);
}

/** The page background's relative luminance (0 black … 1 white). */
async function backgroundLuminance(page) {
  const rgb = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  const [r, g, b] = rgb.match(/\d+(\.\d+)?/g).slice(0, 3).map(Number);
  return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
}

async function shoot(page, name, theme) {
  await page.keyboard.press('Escape');
  await page.click('#title');
  const lum = await backgroundLuminance(page);
  if (theme === 'light') {
    assert.ok(lum > 0.8, `the light theme renders light (luminance ${lum.toFixed(2)})`);
  } else {
    assert.ok(lum < 0.3, `the dark theme renders dark (luminance ${lum.toFixed(2)})`);
  }
  await page.screenshot({ path: join(ARTIFACTS, `${name}-${theme}.png`), fullPage: true });
}

function resourceCalls(path) {
  return srv.requests.filter((r) => r.path === path);
}

describe('editors in Chromium', { skip }, () => {
  test('query editor: every query type, filters with suggestions, text, format, by/top/step/limit (light)', async () => {
    const { page, errors } = await open('query', 'light');
    srv.requests.length = 0;

    // A closed-set filter: category = ddl, offered without asking the backend.
    await page.click('#dbsec-add-filter');
    await choose(page, 'dbsec-filter-key-new', 'category', 'categ');
    await choose(page, 'dbsec-filter-value-new', 'ddl');
    let m = await modelWhere(page, (m) => m.filters?.length === 1, 'the first filter');
    assert.deepEqual(m, { refId: 'A', queryType: 'events', format: 'logs', filters: [{ key: 'category', op: '=', value: 'ddl' }] });
    assert.equal(resourceCalls('values/category').length, 0, 'closed sets need no backend call');

    // user != bob, bob suggested by values/user (asked with the other filter and the time range).
    await page.click('#dbsec-add-filter');
    await choose(page, 'dbsec-filter-key-new', 'user', 'user');
    await clickRadio(page, '#dbsec-filter-row-new', '!=');
    await choose(page, 'dbsec-filter-value-new', 'bob', undefined, 'query-editor-suggestions-light.png');
    m = await modelWhere(page, (m) => m.filters?.length === 2, 'the second filter');
    assert.deepEqual(m.filters[1], { key: 'user', op: '!=', value: 'bob' });
    const [call] = resourceCalls('values/user');
    assert.ok(call, 'the value suggestions come from values/user');
    assert.equal(call.params.category, 'ddl');
    assert.match(call.params.from, /^\d{13}$/);
    assert.equal(Number(call.params.to) - Number(call.params.from), 6 * 3600 * 1000, 'the panel time range (last 6 hours)');
    assert.deepEqual(call.headers, { pluginId: 'dbsec-audit-datasource', dsUid: 'dbsec' });

    // A free value that no suggestion has.
    await page.click('#dbsec-add-filter');
    await choose(page, 'dbsec-filter-key-new', 'client_ip', 'client');
    await create(page, 'dbsec-filter-value-new', '203.0.113.9');
    m = await modelWhere(page, (m) => m.filters?.length === 3, 'the third filter');
    assert.deepEqual(m.filters[2], { key: 'client_ip', op: '=', value: '203.0.113.9' });

    // Free text runs the query on blur; format and limit.
    const runs = await page.evaluate(() => window.__runs);
    await page.type('#dbsec-q', 'DROP TABLE');
    await page.click('#title');
    assert.ok((await page.evaluate(() => window.__runs)) > runs, 'leaving the text field runs the query');
    await clickRadio(page, '#editor', 'Table');
    await page.type('#dbsec-limit', '500');
    m = await modelWhere(page, (m) => m.limit === 500 && m.format === 'table', 'format and limit');
    assert.deepEqual(m, {
      refId: 'A',
      queryType: 'events',
      format: 'table',
      filters: [
        { key: 'category', op: '=', value: 'ddl' },
        { key: 'user', op: '!=', value: 'bob' },
        { key: 'client_ip', op: '=', value: '203.0.113.9' },
      ],
      q: 'DROP TABLE',
      limit: 500,
    });
    await shoot(page, 'query-editor', 'light');

    // Series: format and limit go, the filters and text stay; by, top and step.
    await choose(page, 'dbsec-query-type', 'Series');
    m = await modelWhere(page, (m) => m.queryType === 'series', 'a series query');
    assert.deepEqual(Object.keys(m).sort(), ['by', 'filters', 'q', 'queryType', 'refId']);
    await choose(page, 'dbsec-by', 'user', 'use');
    await page.type('#dbsec-top', '5');
    await page.type('#dbsec-step', '5x');
    await page.waitForSelector('::-p-text(A Go duration such as 30s, 5m or 1h)', { timeout: 15000 });
    await retype(page, '#dbsec-step', '5m');
    await page.click('[aria-label="Remove filter 3"]');
    m = await modelWhere(page, (m) => m.step === '5m' && m.filters.length === 2, 'by, top, step and a removed filter');
    assert.deepEqual(m, {
      refId: 'A',
      queryType: 'series',
      by: 'user',
      top: 5,
      step: '5m',
      q: 'DROP TABLE',
      filters: [
        { key: 'category', op: '=', value: 'ddl' },
        { key: 'user', op: '!=', value: 'bob' },
      ],
    });
    assert.equal(await page.$('::-p-text(A Go duration such as 30s, 5m or 1h)'), null, 'a valid step clears the error');
    await shoot(page, 'query-editor-series', 'light');

    await choose(page, 'dbsec-query-type', 'Top');
    m = await modelWhere(page, (m) => m.queryType === 'top', 'a top query');
    assert.deepEqual(m, { refId: 'A', queryType: 'top', by: 'user', q: 'DROP TABLE', filters: m.filters });
    assert.equal(m.filters.length, 2);

    // Detections take source, user, client_ip, rule and severity: the category filter goes.
    await choose(page, 'dbsec-query-type', 'Detections');
    m = await modelWhere(page, (m) => m.queryType === 'detections', 'a detections query');
    assert.deepEqual(m, { refId: 'A', queryType: 'detections', filters: [{ key: 'user', op: '!=', value: 'bob' }] });

    // Findings: severity (closed set) and a rule from the rule catalogue.
    await choose(page, 'dbsec-query-type', 'Findings');
    m = await modelWhere(page, (m) => m.queryType === 'findings', 'a findings query');
    assert.deepEqual(m, { refId: 'A', queryType: 'findings' });
    await page.click('#dbsec-add-filter');
    await choose(page, 'dbsec-filter-key-new', 'severity', 'sev');
    await choose(page, 'dbsec-filter-value-new', 'high');
    await page.click('#dbsec-add-filter');
    await choose(page, 'dbsec-filter-key-new', 'rule', 'rul');
    await choose(page, 'dbsec-filter-value-new', `${FIXTURES.rules[1].id} ${FIXTURES.rules[1].name}`);
    m = await modelWhere(page, (m) => m.filters?.length === 2, 'the findings filters');
    assert.deepEqual(m.filters, [
      { key: 'severity', op: '=', value: 'high' },
      { key: 'rule', op: '=', value: FIXTURES.rules[1].id },
    ]);
    assert.equal(resourceCalls('rules').length, 1, 'rule suggestions come from the rules resource');

    // Drift changes take only target.
    await choose(page, 'dbsec-query-type', 'Drift changes');
    m = await modelWhere(page, (m) => m.queryType === 'drift_changes', 'a drift changes query');
    assert.deepEqual(m, { refId: 'A', queryType: 'drift_changes' });
    await page.click('#dbsec-add-filter');
    await choose(page, 'dbsec-filter-value-new', FIXTURES.values.target[0]);
    m = await modelWhere(page, (m) => m.filters?.length === 1, 'a target filter');
    assert.deepEqual(m.filters, [{ key: 'target', op: '=', value: FIXTURES.values.target[0] }]);

    for (const [label, type] of [
      ['Integrity', 'integrity'],
      ['Status', 'status'],
    ]) {
      await choose(page, 'dbsec-query-type', label);
      m = await modelWhere(page, (m) => m.queryType === type, `a ${type} query`);
      assert.deepEqual(m, { refId: 'A', queryType: type });
      assert.equal(await page.$('#dbsec-add-filter'), null, `${type} takes no filters`);
    }
    await choose(page, 'dbsec-query-type', 'Events');
    m = await modelWhere(page, (m) => m.queryType === 'events', 'back to events');
    assert.deepEqual(m, { refId: 'A', queryType: 'events', format: 'logs' });

    assert.deepEqual(errors, []);
    await page.close();
  });

  test('query editor (dark)', async () => {
    const { page, errors } = await open('query', 'dark');
    await page.click('#dbsec-add-filter');
    await choose(page, 'dbsec-filter-key-new', 'system', 'sys');
    await choose(page, 'dbsec-filter-value-new', 'mariadb');
    await page.click('#dbsec-add-filter');
    await choose(page, 'dbsec-filter-key-new', 'user', 'user');
    await choose(page, 'dbsec-filter-value-new', '$user');
    await page.type('#dbsec-q', 'GRANT');
    const m = await modelWhere(page, (m) => m.q === 'GRANT' && m.filters?.length === 2, 'filters and text');
    assert.deepEqual(m.filters, [
      { key: 'system', op: '=', value: 'mariadb' },
      { key: 'user', op: '=', value: '$user' },
    ]);
    await shoot(page, 'query-editor', 'dark');
    assert.deepEqual(errors, []);
    await page.close();
  });

  for (const theme of ['light', 'dark']) {
    test(`config editor: URL, basic auth, further exporters (${theme})`, async () => {
      const { page, errors } = await open('config', theme);
      await page.type('input[placeholder="http://localhost:9947"]', 'https://exporter-1:9947');
      let m = await modelWhere(page, (m) => m.url === 'https://exporter-1:9947', 'the URL');
      await page.click('#http-settings-basic-auth');
      m = await modelWhere(page, (m) => m.basicAuth === true, 'basic auth on');

      await page.click('#dbsec-add-url');
      await page.type('#dbsec-url-0', 'exporter-2');
      await page.waitForSelector('::-p-text(An http:// or https:// URL)', { timeout: 15000 });
      await retype(page, '#dbsec-url-0', 'http://exporter-2:9947');
      await page.click('#dbsec-add-url');
      await page.type('#dbsec-url-1', 'https://exporter-3:9947');
      m = await modelWhere(page, (m) => m.jsonData.urls?.[1] === 'https://exporter-3:9947', 'two further exporters');
      assert.deepEqual(m.jsonData.urls, ['http://exporter-2:9947', 'https://exporter-3:9947']);
      assert.equal(await page.$('::-p-text(An http:// or https:// URL)'), null, 'valid URLs show no error');
      assert.equal(m.url, 'https://exporter-1:9947');
      assert.equal(m.basicAuth, true);
      await shoot(page, 'config-editor', theme);
      if (theme === 'dark') {
        assert.deepEqual(errors, []); // the flow after this is the same in both themes
        await page.close();
        return;
      }

      await page.click('[aria-label="Remove exporter 2"]');
      m = await modelWhere(page, (m) => m.jsonData.urls?.length === 1, 'one further exporter');
      assert.deepEqual(m.jsonData.urls, ['https://exporter-3:9947']);
      await page.click('[aria-label="Remove exporter 2"]');
      m = await modelWhere(page, (m) => !('urls' in m.jsonData), 'no further exporter');
      assert.deepEqual(errors, []);
      await page.close();
    });
  }

  for (const theme of ['light', 'dark']) {
    test(`variable editor: a values query, and the data source answers it from values/<field> (${theme})`, async () => {
      const { page, errors, changes } = await open('variable', theme);
      srv.requests.length = 0;
      await choose(page, 'dbsec-var-field', 'client_ip', 'client');
      await page.click('#dbsec-var-add-filter');
      await choose(page, 'dbsec-var-filter-key-new', 'system', 'sys');
      await choose(page, 'dbsec-var-filter-value-new', 'tidb');
      await page.type('#dbsec-var-q', 'login');
      await page.click('#title');
      const m = await modelWhere(page, (m) => m.query?.q === 'login', 'the variable query');
      assert.deepEqual(m, {
        query: { refId: 'variable', queryType: 'values', field: 'client_ip', filters: [{ key: 'system', op: '=', value: 'tidb' }], q: 'login' },
        definition: 'values by client_ip system=tidb "login"',
      });
      assert.ok(changes.every((c) => c.kind === 'variable' && c.model.query.queryType === 'values'));
      await shoot(page, 'variable-editor', theme);
      if (theme === 'dark') {
        assert.deepEqual(errors, []); // the flow after this is the same in both themes
        await page.close();
        return;
      }

      // The real DataSource with Grafana's real runtime: metricFindQuery → getResource → HTTP.
      const found = await page.evaluate(async (q) => {
        const { ds, GrafanaData: D } = window.__harness;
        return ds.metricFindQuery(q, { range: { from: D.dateTime(1700000000000), to: D.dateTime(1700003600000) } });
      }, m.query);
      assert.deepEqual(found, FIXTURES.values.client_ip.map((v) => ({ text: v, value: v })));
      assert.deepEqual(resourceCalls('values/client_ip').at(-1), {
        path: 'values/client_ip',
        params: { from: '1700000000000', to: '1700003600000', system: 'tidb', q: 'login' },
        headers: { pluginId: 'dbsec-audit-datasource', dsUid: 'dbsec' },
      });
      assert.deepEqual(errors, []);
      await page.close();
    });
  }

  test('the data source with Grafana\'s runtime: template variables, ad hoc keys and values', async () => {
    const { page, errors } = await open('query', 'light');
    srv.requests.length = 0;
    const out = await page.evaluate(async () => {
      const { ds } = window.__harness;
      const q = ds.applyTemplateVariables(
        { refId: 'A', queryType: 'events', filters: [{ key: 'user', op: '=', value: '$user' }, { key: 'source', op: '=', value: '$source' }] },
        {},
        [{ key: 'outcome', operator: '!=', value: 'success' }]
      );
      const keys = await ds.getTagKeys({ filters: [] });
      const values = await ds.getTagValues({ key: 'user', filters: [{ key: 'system', operator: '=', value: 'tidb' }] });
      return { q, keys, values };
    });
    assert.deepEqual(out.q.filters, [
      { key: 'user', op: '=', value: 'alice' },
      { key: 'user', op: '=', value: 'bob' },
      { key: 'source', op: '=', value: 'tidb-prod' },
      { key: 'outcome', op: '!=', value: 'success' },
    ]);
    assert.deepEqual(out.keys, FIXTURES.keys.map((text) => ({ text })));
    assert.deepEqual(out.values, FIXTURES.values.user.map((text) => ({ text })));
    assert.deepEqual(resourceCalls('values/user').at(-1).params, { system: 'tidb' });
    assert.equal(resourceCalls('keys').length, 1);
    assert.deepEqual(errors, []);
    await page.close();
  });
});
