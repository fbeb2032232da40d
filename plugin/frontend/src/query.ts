// Pure query logic of the data source: no Grafana runtime services, so the
// node tests exercise exactly what the DataSource class runs.
import {
  CLOSED_VALUES,
  DEFAULT_QUERY,
  DbsecQuery,
  FILTER_KEYS,
  Filter,
  FilterKey,
  FilterOp,
  KEYS_BY_TYPE,
  QUERY_TYPES,
  QueryType,
} from './types';

/** The parts of a query each query type uses (besides queryType and filters). */
export const FIELDS_BY_TYPE: Record<QueryType, ReadonlyArray<keyof DbsecQuery>> = {
  events: ['format', 'q', 'limit'],
  series: ['q', 'by', 'top', 'step'],
  top: ['q', 'by', 'limit'],
  detections: ['limit'],
  findings: ['limit'],
  drift_changes: ['limit'],
  integrity: [],
  status: [],
  values: ['q', 'field'],
};

const MODEL_FIELDS: ReadonlyArray<keyof DbsecQuery> = ['format', 'q', 'by', 'field', 'top', 'step', 'limit'];

export function queryTypeOf(q: Partial<DbsecQuery>): QueryType {
  const t = q.queryType;
  return t && (QUERY_TYPES as readonly string[]).includes(t) ? t : 'events';
}

export function keysFor(t: QueryType): readonly FilterKey[] {
  return KEYS_BY_TYPE[t];
}

/** Default query of a new panel; alert rules need numbers, so they start with a series. */
export function defaultQuery(app?: string): Partial<DbsecQuery> {
  if (app === 'unified-alerting' || app === 'cloud-alerting') {
    return { queryType: 'series', by: 'category' };
  }
  return { ...DEFAULT_QUERY };
}

/**
 * Switches a query to another type: keeps refId, datasource and the filters
 * and options the new type takes, drops the rest (the backend would reject
 * them), and fills in the new type's defaults.
 */
export function withQueryType(query: DbsecQuery, t: QueryType): DbsecQuery {
  const out: DbsecQuery = { ...query, queryType: t };
  for (const f of MODEL_FIELDS) {
    if (!FIELDS_BY_TYPE[t].includes(f)) {
      delete out[f];
    }
  }
  const keys = keysFor(t);
  const filters = (query.filters ?? []).filter((f) => (keys as readonly string[]).includes(f.key));
  if (filters.length) {
    out.filters = filters;
  } else {
    delete out.filters;
  }
  if (t === 'events' && !out.format) {
    out.format = 'logs';
  }
  if ((t === 'series' || t === 'top') && !out.by) {
    out.by = query.field || 'category';
  }
  if (t === 'values' && !out.field) {
    out.field = query.by || 'user';
  }
  return out;
}

/**
 * Interpolates template variables in one string. `format` is called by the
 * template service for each variable with its value (an array for a
 * multi-value variable) and returns the text that replaces it.
 */
export type Interpolate = (text: string, format: (value: unknown) => string) => string;

function valuesOf(v: unknown): string[] {
  if (Array.isArray(v)) {
    return v.map((x) => String(x));
  }
  return v === undefined || v === null ? [''] : [String(v)];
}

const MARK = '\u0000';

/**
 * Expands template variables of `text` into every value they stand for: a
 * multi-value variable gives one result per value (and several such
 * variables their product), a single-value variable gives one.
 */
export function expandValues(text: string, interpolate: Interpolate): string[] {
  if (!text) {
    return [text];
  }
  const multi: string[][] = [];
  const out = interpolate(text, (v) => {
    const vals = valuesOf(v);
    if (vals.length === 1) {
      return vals[0];
    }
    multi.push(vals);
    return MARK + (multi.length - 1) + MARK;
  });
  if (!multi.length) {
    return [out];
  }
  let acc = [''];
  out.split(MARK).forEach((seg, i) => {
    if (i % 2 === 0) {
      acc = acc.map((a) => a + seg);
    } else {
      const vals = multi[Number(seg)];
      acc = acc.flatMap((a) => vals.map((v) => a + v));
    }
  });
  return [...new Set(acc)];
}

/** Interpolates a string that takes one value; a multi-value variable gives its values joined by commas. */
export function expandSingle(text: string | undefined, interpolate: Interpolate): string | undefined {
  if (!text) {
    return text;
  }
  return interpolate(text, (v) => valuesOf(v).join(','));
}

/** A filter of a dashboard's ad hoc variable (Grafana's AdHocVariableFilter). */
export interface AdHocFilter {
  key: string;
  operator: string;
  value: string;
  values?: string[];
}

const KEY_ALIASES: Record<string, FilterKey> = {
  client: 'client_ip',
  clientip: 'client_ip',
  ip: 'client_ip',
  host: 'client_ip',
  connection: 'connection_id',
  connectionid: 'connection_id',
  conn_id: 'connection_id',
  session_id: 'connection_id',
  rule_id: 'rule',
  ruleid: 'rule',
  username: 'user',
};

/**
 * Maps a field or label name (a log label, a table column, an ad hoc key)
 * to a filter key, or undefined when it is none.
 */
export function filterKeyOf(name: string | undefined): FilterKey | undefined {
  if (!name) {
    return undefined;
  }
  const k = name.trim().toLowerCase().replace(/[\s.-]+/g, '_');
  if ((FILTER_KEYS as readonly string[]).includes(k)) {
    return k as FilterKey;
  }
  return KEY_ALIASES[k];
}

function hasFilter(filters: Filter[], f: Filter): boolean {
  return filters.some((x) => x.key === f.key && (x.op ?? '=') === (f.op ?? '=') && x.value === f.value);
}

/** Turns ad hoc filters into query filters of the keys the query type takes. */
export function adHocToFilters(adhoc: AdHocFilter[] | undefined, t: QueryType): Filter[] {
  const keys = keysFor(t) as readonly string[];
  const out: Filter[] = [];
  for (const a of adhoc ?? []) {
    const key = filterKeyOf(a.key);
    if (!key || !keys.includes(key)) {
      continue;
    }
    let op: FilterOp;
    let vals: string[];
    switch (a.operator) {
      case '=':
      case '!=':
        op = a.operator;
        vals = [a.value];
        break;
      case '=|':
      case '!=|':
        op = a.operator === '=|' ? '=' : '!=';
        vals = a.values?.length ? a.values : [a.value];
        break;
      default:
        // Regex and comparison operators have no counterpart in the query model.
        continue;
    }
    for (const value of vals) {
      const f: Filter = { key, op, value };
      if (!hasFilter(out, f)) {
        out.push(f);
      }
    }
  }
  return out;
}

/**
 * The query as the backend receives it: template variables interpolated in
 * filter values, q, by, field and step (a multi-value variable in a filter
 * value becomes one filter per value), and the dashboard's ad hoc filters
 * appended.
 */
export function interpolateQuery(query: DbsecQuery, interpolate: Interpolate, adhoc?: AdHocFilter[]): DbsecQuery {
  const out: DbsecQuery = { ...query };
  const filters: Filter[] = [];
  for (const f of query.filters ?? []) {
    const key = expandSingle(f.key, interpolate) ?? f.key;
    for (const value of expandValues(f.value ?? '', interpolate)) {
      const nf: Filter = { key, op: f.op ?? '=', value };
      if (!hasFilter(filters, nf)) {
        filters.push(nf);
      }
    }
  }
  for (const f of adHocToFilters(adhoc, queryTypeOf(query))) {
    if (!hasFilter(filters, f)) {
      filters.push(f);
    }
  }
  if (filters.length) {
    out.filters = filters;
  } else {
    delete out.filters;
  }
  for (const k of ['q', 'by', 'field', 'step'] as const) {
    if (out[k]) {
      out[k] = expandSingle(out[k], interpolate);
    }
  }
  return out;
}

/** Grafana's QueryFixAction (ADD_FILTER and the like) as far as used here. */
export interface FixAction {
  type: string;
  options?: Record<string, string>;
}

export const SUPPORTED_MODIFICATIONS = ['ADD_FILTER', 'ADD_FILTER_OUT', 'ADD_STRING_FILTER'];

function setFilter(query: DbsecQuery, key: FilterKey, value: string, op: FilterOp): DbsecQuery {
  const opposite: FilterOp = op === '=' ? '!=' : '=';
  const filters = (query.filters ?? []).filter((f) => !(f.key === key && f.value === value && (f.op ?? '=') === opposite));
  const nf: Filter = { key, op, value };
  if (!hasFilter(filters, nf)) {
    filters.push(nf);
  }
  return { ...query, filters };
}

/**
 * Applies "filter for value" (ADD_FILTER, op "=") and "filter out value"
 * (ADD_FILTER_OUT, op "!=") of the logs panel and table cells, and
 * ADD_STRING_FILTER (the free text). A key the query type does not take
 * leaves the query unchanged.
 */
export function modifyQuery(query: DbsecQuery, action: FixAction): DbsecQuery {
  const opts = action.options ?? {};
  if (action.type === 'ADD_STRING_FILTER') {
    return opts.value ? { ...query, q: opts.value } : query;
  }
  if (action.type !== 'ADD_FILTER' && action.type !== 'ADD_FILTER_OUT') {
    return query;
  }
  const key = filterKeyOf(opts.key);
  if (!key || opts.value === undefined || !(keysFor(queryTypeOf(query)) as readonly string[]).includes(key)) {
    return query;
  }
  return setFilter(query, key, opts.value, action.type === 'ADD_FILTER' ? '=' : '!=');
}

/** Whether the query has the "=" (or, for type FILTER_OUT, "!=") filter of options.key/value. */
export function queryHasFilter(query: DbsecQuery, options: Record<string, string>): boolean {
  const key = filterKeyOf(options.key);
  if (!key) {
    return false;
  }
  const op: FilterOp = options.type === 'FILTER_OUT' || options.operator === '!=' ? '!=' : '=';
  return hasFilter(query.filters ?? [], { key, op, value: options.value });
}

/** Toggles a filter from log details: present → removed; absent → added (replacing its opposite). */
export function toggleQueryFilter(query: DbsecQuery, type: string, options: Record<string, string>): DbsecQuery {
  const key = filterKeyOf(options.key);
  if (!key || options.value === undefined) {
    return query;
  }
  const op: FilterOp = type === 'FILTER_OUT' ? '!=' : '=';
  const f: Filter = { key, op, value: options.value };
  const filters = query.filters ?? [];
  if (hasFilter(filters, f)) {
    return { ...query, filters: filters.filter((x) => !(x.key === key && (x.op ?? '=') === op && x.value === f.value)) };
  }
  return modifyQuery(query, { type: op === '=' ? 'ADD_FILTER' : 'ADD_FILTER_OUT', options });
}

export interface TimeRangeMs {
  from: number;
  to: number;
}

/** The resource path and query parameters of `values/<field>`. */
export interface ResourceRequest {
  path: string;
  params: Record<string, string | string[]>;
}

/**
 * The request for the distinct values of `field`: GET values/<field> with
 * from and to (ms), every "=" filter as <key>=<value> (repeated for several
 * values), every "!=" filter as not_<key>=<value> (the exporter API's
 * exclusion form) and the free text as q.
 */
export function valuesRequest(field: string, filters: Filter[] | undefined, q: string | undefined, range?: TimeRangeMs): ResourceRequest {
  const params: Record<string, string | string[]> = {};
  if (range) {
    params.from = String(Math.floor(range.from));
    params.to = String(Math.ceil(range.to));
  }
  const add = (name: string, value: string) => {
    const prev = params[name];
    params[name] = prev === undefined ? value : ([] as string[]).concat(prev, value);
  };
  for (const f of filters ?? []) {
    if (!f.key) {
      continue;
    }
    add((f.op ?? '=') === '!=' ? 'not_' + f.key : f.key, f.value);
  }
  if (q) {
    params.q = q;
  }
  return { path: 'values/' + encodeURIComponent(field), params };
}

/** Reads a variable query: the object the variable editor writes, or a plain field name. */
export function variableQueryOf(query: unknown): DbsecQuery {
  if (typeof query === 'string') {
    return { refId: 'variable', queryType: 'values', field: query.trim() };
  }
  const q = (query ?? {}) as DbsecQuery;
  return { ...q, refId: q.refId || 'variable', queryType: 'values', field: q.field || q.by };
}

/** Suggestions for a key's values that need no backend call, or undefined. */
export function closedValues(key: string): readonly string[] | undefined {
  return CLOSED_VALUES[key as FilterKey];
}

/** A log row as far as log context needs it: its time and a lookup of its labels and fields. */
export interface ContextRow {
  timeEpochMs: number;
  get(name: string): string | undefined;
}

export const CONTEXT_WINDOW_MS = 60 * 60 * 1000;

/**
 * The events query and time window of a log row's context: the statements
 * of the same connection (and source) before or after it. Without a
 * connection id the row's user and client address stand in. Undefined when
 * the row carries none of them.
 */
export function contextQuery(
  row: ContextRow,
  direction: 'BACKWARD' | 'FORWARD',
  limit: number,
  refId = 'log-context'
): { query: DbsecQuery; range: TimeRangeMs } | undefined {
  const filters: Filter[] = [];
  const add = (key: FilterKey) => {
    const v = row.get(key);
    if (v) {
      filters.push({ key, op: '=', value: v });
    }
  };
  add('source');
  const conn = row.get('connection_id');
  if (conn) {
    add('connection_id');
  } else {
    add('user');
    add('client_ip');
  }
  if (!filters.some((f) => f.key !== 'source')) {
    return undefined;
  }
  const t = row.timeEpochMs;
  const range = direction === 'BACKWARD' ? { from: t - CONTEXT_WINDOW_MS, to: t } : { from: t, to: t + CONTEXT_WINDOW_MS };
  return { query: { refId, queryType: 'events', format: 'logs', filters, limit }, range };
}

/** The logs volume of an events query: a series of the same events by category. */
export function logsVolumeQuery(query: DbsecQuery): DbsecQuery | undefined {
  if (query.hide || queryTypeOf(query) !== 'events') {
    return undefined;
  }
  const out: DbsecQuery = { refId: 'log-volume-' + query.refId, queryType: 'series', by: 'category' };
  if (query.datasource) {
    out.datasource = query.datasource;
  }
  if (query.filters?.length) {
    out.filters = query.filters;
  }
  if (query.q) {
    out.q = query.q;
  }
  return out;
}

/** A one-line summary of a query (query history, annotations list). */
export function displayText(query: DbsecQuery): string {
  const parts: string[] = [queryTypeOf(query)];
  const by = query.by || query.field;
  if (by) {
    parts.push('by ' + by);
  }
  for (const f of query.filters ?? []) {
    parts.push(`${f.key}${f.op ?? '='}${f.value}`);
  }
  if (query.q) {
    parts.push(JSON.stringify(query.q));
  }
  return parts.join(' ');
}
