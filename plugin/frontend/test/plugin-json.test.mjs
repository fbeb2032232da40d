// plugin/plugin.json against the rules of Grafana's plugin.json schema.
//
// No registry package ships that schema (checked: @grafana/create-plugin,
// @grafana/plugin-e2e, @grafana/plugin-validator, @grafana/plugin-meta-extractor,
// @grafana/eslint-plugin-plugins, @grafana/toolkit), so its rules are written
// down here: the keys it allows at each level (it rejects any other), the
// required ones, their types, enums and patterns, plus what Grafana needs of a
// backend data source (an executable, alerting only with a backend, the logo
// files present).
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import { FRONTEND, PLUGIN } from './lib/bundle.mjs';

const B = 'boolean';
const S = 'string';
const schema = {
  required: ['type', 'name', 'id', 'info', 'dependencies'],
  props: {
    $schema: S, id: S, type: S, name: S, info: 'object', dependencies: 'object',
    alerting: B, annotations: B, autoEnabled: B, backend: B, builtIn: B, category: S,
    enterpriseFeatures: 'object', executable: S, hideFromList: B, includes: 'array', logs: B,
    metrics: B, pascalName: S, preload: B, queryOptions: 'object', routes: 'array',
    skipDataQuery: B, state: S, streaming: B, tracing: B,
  },
  idPattern: /^[0-9a-z]+-([0-9a-z]+-)?(app|panel|datasource|secretsmanager|transformer)$/,
  types: ['app', 'datasource', 'panel', 'renderer', 'secretsmanager', 'transformer'],
  categories: ['tsdb', 'logging', 'cloud', 'tracing', 'profiling', 'sql', 'enterprise', 'iot', 'other'],
  info: {
    required: ['logos', 'version', 'updated', 'keywords'],
    props: { author: 'object', build: 'object', description: S, keywords: 'array', links: 'array', logos: 'object', screenshots: 'array', updated: S, version: S },
    updated: /^(\d{4}-\d{2}-\d{2}|%TODAY%)$/,
    version: /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)|(%VERSION%)$/,
  },
  author: ['name', 'email', 'url'],
  link: ['name', 'url'],
  logos: ['small', 'large'],
  dependencies: {
    required: ['grafanaDependency'],
    props: ['grafanaVersion', 'grafanaDependency', 'plugins'],
    grafanaDependency: /^(<=|>=|<|>|=|~|\^)?([0-9]+)(\.[0-9x*]+)(\.[0-9x*]+)?(\s(<=|>=|<|=>)?([0-9]+)(\.[0-9x]+)(\.[0-9x]+))?$/,
  },
  queryOptions: ['maxDataPoints', 'minInterval', 'cacheTimeout'],
  include: ['uid', 'type', 'name', 'component', 'role', 'path', 'addToNav', 'defaultNav', 'icon'],
  includeTypes: ['dashboard', 'page', 'panel', 'datasource', 'secretsmanager'],
};

function typeOf(v) {
  return Array.isArray(v) ? 'array' : v === null ? 'null' : typeof v;
}

function onlyKeys(obj, allowed, where, errors) {
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k)) {
      errors.push(`${where}: unknown key "${k}" (the schema allows ${allowed.join(', ')})`);
    }
  }
}

/** Every violation of the schema's rules and Grafana's backend requirements. */
export function validate(p, dir) {
  const errors = [];
  const err = (m) => errors.push(m);
  if (typeOf(p) !== 'object') {
    return ['plugin.json is not an object'];
  }
  for (const k of schema.required) if (!(k in p)) err(`missing required key "${k}"`);
  onlyKeys(p, Object.keys(schema.props), 'plugin.json', errors);
  for (const [k, t] of Object.entries(schema.props)) {
    if (k in p && typeOf(p[k]) !== t) err(`"${k}" must be a ${t}, is ${typeOf(p[k])}`);
  }
  if (typeof p.id === 'string' && !schema.idPattern.test(p.id)) err(`id "${p.id}" does not match ${schema.idPattern}`);
  if (p.type !== undefined && !schema.types.includes(p.type)) err(`type "${p.type}" is none of ${schema.types}`);
  if (p.category !== undefined && !schema.categories.includes(p.category)) err(`category "${p.category}" is none of ${schema.categories}`);
  if (typeof p.id === 'string' && typeof p.type === 'string' && !p.id.endsWith('-' + p.type)) err(`id "${p.id}" does not end in -${p.type}`);

  const info = p.info ?? {};
  if (typeOf(info) === 'object') {
    for (const k of schema.info.required) if (!(k in info)) err(`info: missing required key "${k}"`);
    onlyKeys(info, Object.keys(schema.info.props), 'info', errors);
    for (const [k, t] of Object.entries(schema.info.props)) {
      if (k in info && typeOf(info[k]) !== t) err(`info.${k} must be a ${t}`);
    }
    if (typeof info.updated === 'string' && !schema.info.updated.test(info.updated)) err(`info.updated "${info.updated}" is not YYYY-MM-DD or %TODAY%`);
    if (typeof info.version === 'string' && !schema.info.version.test(info.version)) err(`info.version "${info.version}" is not x.y.z or %VERSION%`);
    if (Array.isArray(info.keywords) && (info.keywords.length < 1 || info.keywords.some((k) => typeof k !== 'string'))) err('info.keywords must be at least one string');
    if (typeOf(info.author) === 'object') onlyKeys(info.author, schema.author, 'info.author', errors);
    for (const [i, l] of (info.links ?? []).entries()) {
      onlyKeys(l, schema.link, `info.links[${i}]`, errors);
      try {
        new URL(l.url);
      } catch {
        err(`info.links[${i}].url "${l.url}" is not a URL`);
      }
    }
    const logos = info.logos ?? {};
    for (const k of schema.logos) {
      if (typeof logos[k] !== 'string') err(`info.logos.${k} is required`);
      else if (!logos[k].endsWith('.svg') && !logos[k].endsWith('.png')) err(`info.logos.${k} is no image`);
      else if (dir && !existsSync(join(dir, logos[k]))) err(`info.logos.${k}: ${logos[k]} does not exist`);
    }
    onlyKeys(logos, schema.logos, 'info.logos', errors);
  }

  const deps = p.dependencies ?? {};
  if (typeOf(deps) === 'object') {
    for (const k of schema.dependencies.required) if (!(k in deps)) err(`dependencies: missing required key "${k}"`);
    onlyKeys(deps, schema.dependencies.props, 'dependencies', errors);
    if (typeof deps.grafanaDependency === 'string' && !schema.dependencies.grafanaDependency.test(deps.grafanaDependency)) {
      err(`dependencies.grafanaDependency "${deps.grafanaDependency}" is no version range`);
    }
    if (deps.plugins !== undefined && !Array.isArray(deps.plugins)) err('dependencies.plugins must be an array');
  }
  if (p.queryOptions) {
    onlyKeys(p.queryOptions, schema.queryOptions, 'queryOptions', errors);
    for (const [k, v] of Object.entries(p.queryOptions)) if (typeof v !== 'boolean') err(`queryOptions.${k} must be a boolean`);
  }
  for (const [i, inc] of (p.includes ?? []).entries()) {
    onlyKeys(inc, schema.include, `includes[${i}]`, errors);
    if (inc.type !== undefined && !schema.includeTypes.includes(inc.type)) err(`includes[${i}].type "${inc.type}" is none of ${schema.includeTypes}`);
  }

  // Grafana's requirements beyond the schema's shape.
  if (p.backend && !p.executable) err('a backend plugin needs "executable" (the binaries are <executable>_<os>_<arch>)');
  if (p.executable && !/^[A-Za-z0-9_-]+$/.test(p.executable)) err(`executable "${p.executable}" must be a plain file name prefix`);
  if (p.alerting && !p.backend) err('"alerting" requires "backend": true');
  return errors;
}

const source = JSON.parse(readFileSync(join(PLUGIN, 'plugin.json'), 'utf8'));

test('plugin/plugin.json satisfies the schema and Grafana\'s backend requirements', () => {
  assert.deepEqual(validate(source, PLUGIN), []);
});

test('plugin/plugin.json declares what dbsec is', () => {
  assert.equal(source.id, 'dbsec-audit-datasource');
  assert.equal(source.type, 'datasource');
  assert.equal(source.name, 'dbsec');
  assert.equal(source.executable, 'gpx_dbsec');
  for (const k of ['backend', 'alerting', 'logs', 'metrics', 'annotations']) assert.equal(source[k], true, k);
  assert.equal(source.info.version, '%VERSION%');
  assert.equal(source.info.updated, '%TODAY%');
  assert.equal(source.dependencies.grafanaDependency, '>=11.0.0');
  // The generated dashboards ship with the plugin (dashboards/includes.json;
  // a Go test keeps the two equal), and the build copies them into dist.
  assert.ok(source.includes.length >= 10, 'the dashboards are included');
  for (const inc of source.includes) {
    assert.equal(inc.type, 'dashboard');
    assert.match(inc.path, /^dashboards\/[a-z0-9-]+\.json$/);
    assert.ok(existsSync(join(PLUGIN, 'dist', inc.path)), `${inc.path} is in plugin/dist`);
  }
});

test('the validator rejects what the schema rejects', () => {
  const bad = structuredClone(source);
  bad.id = 'DBSec_datasource';
  bad.alertng = true;
  bad.backend = false;
  delete bad.info.version;
  bad.info.logos.small = 'img/missing.svg';
  bad.dependencies.grafanaDependency = 'eleven';
  bad.queryOptions.interval = true;
  const errors = validate(bad, PLUGIN).join('\n');
  for (const m of ['id "DBSec_datasource"', 'unknown key "alertng"', '"alerting" requires', 'missing required key "version"', 'img/missing.svg does not exist', 'grafanaDependency "eleven"', 'queryOptions: unknown key "interval"']) {
    assert.ok(errors.includes(m), `expected an error containing ${m}; got:\n${errors}`);
  }
});

test('the built dist/plugin.json has the version of package.json and today\'s date', () => {
  const built = join(PLUGIN, 'dist', 'plugin.json');
  assert.ok(existsSync(built), 'plugin/dist/plugin.json is missing: run node build.mjs first');
  const dist = JSON.parse(readFileSync(built, 'utf8'));
  const pkg = JSON.parse(readFileSync(join(FRONTEND, 'package.json'), 'utf8'));
  assert.equal(dist.info.version, pkg.version);
  assert.match(dist.info.updated, /^\d{4}-\d{2}-\d{2}$/);
  assert.deepEqual(validate(dist, join(PLUGIN, 'dist')), []);
  assert.deepEqual({ ...dist, info: { ...dist.info, version: '%VERSION%', updated: '%TODAY%' } }, source);
});
