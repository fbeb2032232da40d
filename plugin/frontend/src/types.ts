// The query model of the dbsec data source. The plugin backend reads exactly
// this JSON; pkg/grafana/model/model.go is its Go source of truth, and
// test/model-sync.test.mjs fails when the two differ.
import type { DataQuery } from '@grafana/schema';
import type { DataSourceJsonData } from '@grafana/data';

/** Every query type, in the order the editors offer them. */
export const QUERY_TYPES = [
  'events',
  'series',
  'top',
  'detections',
  'findings',
  'drift_changes',
  'integrity',
  'status',
  'values',
] as const;
export type QueryType = (typeof QUERY_TYPES)[number];

/** Formats of an events query. */
export const FORMATS = ['logs', 'table'] as const;
export type Format = (typeof FORMATS)[number];

/** Filter operators. */
export const OPS = ['=', '!='] as const;
export type FilterOp = (typeof OPS)[number];

/** Every filter key. */
export const FILTER_KEYS = [
  'source',
  'system',
  'category',
  'outcome',
  'action',
  'user',
  'client_ip',
  'digest',
  'rule',
  'connection_id',
  'severity',
  'target',
  'status',
] as const;
export type FilterKey = (typeof FILTER_KEYS)[number];

/** Dimensions of series, top and values queries (`by`, `field`). */
export const DIMENSIONS = [
  'source',
  'system',
  'category',
  'outcome',
  'action',
  'user',
  'client_ip',
  'digest',
  'rule',
] as const;
export type Dimension = (typeof DIMENSIONS)[number];

/**
 * One condition. Several "=" filters on one key are alternatives (OR), "!="
 * excludes, different keys combine with AND.
 */
export interface Filter {
  key: string;
  op?: FilterOp;
  value: string;
}

export interface DbsecQuery extends DataQuery {
  /** Default 'events'. 'values' is only written by the variable editor. */
  queryType?: QueryType;
  /** Events only: 'logs' (default) or 'table'. */
  format?: Format;
  filters?: Filter[];
  /** Free text: a case-insensitive substring of the statement or raw record. */
  q?: string;
  /** Dimension of series, top and values. */
  by?: string;
  /** Alias of `by` for values queries. */
  field?: string;
  /** Series: keep the N series with the highest totals (default 10). */
  top?: number;
  /** Series step as a Go duration ('5m'); empty: the panel's interval. */
  step?: string;
  /** Row limit. */
  limit?: number;
}

/** Data source options beyond Grafana's standard HTTP settings (whose url is the first exporter). */
export interface DbsecOptions extends DataSourceJsonData {
  /** Further exporters; queries fan out to all of them and merge. */
  urls?: string[];
}

/** Closed value sets, offered directly by the editors. Other keys get their values from the backend. */
export const CLOSED_VALUES: Partial<Record<FilterKey, readonly string[]>> = {
  system: ['tidb', 'tdengine', 'redash', 'mariadb', 'mysql', 'postgres'],
  category: ['login', 'logout', 'ddl', 'privilege_change', 'dml_write', 'read', 'admin', 'access_denied', 'error', 'other'],
  outcome: ['success', 'failure', 'unknown'],
  severity: ['info', 'low', 'medium', 'high', 'critical'],
  status: ['pass', 'fail', 'not_applicable', 'unknown'],
};

const EVENT_KEYS: readonly FilterKey[] = [
  'source',
  'system',
  'category',
  'outcome',
  'action',
  'user',
  'client_ip',
  'digest',
  'rule',
  'connection_id',
];

/**
 * The filter keys each query type takes (as documented on the Go filter
 * keys). Editors offer only these, and ad hoc filters of other keys are not
 * applied to a query of that type.
 */
export const KEYS_BY_TYPE: Record<QueryType, readonly FilterKey[]> = {
  events: EVENT_KEYS,
  series: EVENT_KEYS,
  top: EVENT_KEYS,
  values: EVENT_KEYS,
  detections: ['source', 'user', 'client_ip', 'rule', 'severity'],
  findings: ['target', 'severity', 'status', 'rule'],
  drift_changes: ['target'],
  integrity: [],
  status: [],
};

/** Human labels for the query type picker. */
export const QUERY_TYPE_INFO: Record<QueryType, { label: string; description: string }> = {
  events: { label: 'Events', description: 'Stored audit events, as logs or a table' },
  series: { label: 'Series', description: 'Event counts per step, one series per value of a dimension' },
  top: { label: 'Top', description: 'Values of a dimension ranked by event count' },
  detections: { label: 'Detections', description: 'Detection rule hits with their evidence' },
  findings: { label: 'Findings', description: 'Configuration findings of the drift checker' },
  drift_changes: { label: 'Drift changes', description: 'Changes against the approved configuration (also for annotations)' },
  integrity: { label: 'Integrity', description: 'Hash chain verification of the event store' },
  status: { label: 'Status', description: 'Sources and store of each exporter' },
  values: { label: 'Values', description: 'Distinct values of a field (template variables)' },
};

/** A rule of the backend's rule catalogue (resource `rules`). */
export interface RuleInfo {
  id: string;
  name: string;
  severity: string;
  title: string;
}

export const DEFAULT_QUERY: Partial<DbsecQuery> = { queryType: 'events', format: 'logs' };
