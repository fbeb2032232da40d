import {
  CoreApp,
  DataQueryRequest,
  DataQueryResponse,
  DataSourceGetTagKeysOptions,
  DataSourceGetTagValuesOptions,
  DataSourceInstanceSettings,
  DataSourceWithLogsContextSupport,
  DataSourceWithQueryModificationSupport,
  DataSourceWithSupplementaryQueriesSupport,
  DataSourceWithToggleableQueryFiltersSupport,
  LegacyMetricFindQueryOptions,
  LogRowContextOptions,
  LogRowContextQueryDirection,
  LogRowModel,
  MetricFindValue,
  QueryFilterOptions,
  QueryFixAction,
  ScopedVars,
  SupplementaryQueryOptions,
  SupplementaryQueryType,
  ToggleFilterAction,
  dateTime,
} from '@grafana/data';
import type { AdHocVariableFilter } from '@grafana/data';
import { DataSourceWithBackend, getTemplateSrv } from '@grafana/runtime';
import { lastValueFrom } from 'rxjs';

import {
  ContextRow,
  Interpolate,
  SUPPORTED_MODIFICATIONS,
  TimeRangeMs,
  adHocToFilters,
  contextQuery,
  defaultQuery,
  displayText,
  filterKeyOf,
  interpolateQuery,
  logsVolumeQuery,
  modifyQuery,
  queryHasFilter,
  toggleQueryFilter,
  valuesRequest,
  variableQueryOf,
} from './query';
import { DbsecOptions, DbsecQuery, RuleInfo } from './types';

export class DataSource
  extends DataSourceWithBackend<DbsecQuery, DbsecOptions>
  implements
    DataSourceWithLogsContextSupport<DbsecQuery>,
    DataSourceWithSupplementaryQueriesSupport<DbsecQuery>,
    DataSourceWithQueryModificationSupport<DbsecQuery>,
    DataSourceWithToggleableQueryFiltersSupport<DbsecQuery>
{
  constructor(instanceSettings: DataSourceInstanceSettings<DbsecOptions>) {
    super(instanceSettings);
    // Annotation queries run through the backend like any query and use the
    // query editor; drift changes are the natural annotation source.
    this.annotations = {
      getDefaultQuery: () => ({ queryType: 'drift_changes' }),
    };
  }

  getDefaultQuery(app: CoreApp): Partial<DbsecQuery> {
    return defaultQuery(app);
  }

  filterQuery(query: DbsecQuery): boolean {
    return !query.hide;
  }

  private interpolator(scopedVars: ScopedVars): Interpolate {
    const srv = getTemplateSrv();
    return (text, format) => srv.replace(text, scopedVars, format);
  }

  applyTemplateVariables(query: DbsecQuery, scopedVars: ScopedVars, filters?: AdHocVariableFilter[]): DbsecQuery {
    return interpolateQuery(query, this.interpolator(scopedVars), filters);
  }

  targetContainsTemplate(query: DbsecQuery): boolean {
    const srv = getTemplateSrv();
    const texts = [query.q, query.by, query.field, query.step, ...(query.filters ?? []).map((f) => f.value)];
    return texts.some((t) => !!t && srv.containsTemplate(t));
  }

  getQueryDisplayText(query: DbsecQuery): string {
    return displayText(query);
  }

  // --- template variables and ad hoc filters (backend resources) ---

  /** Values of a field from the backend resource values/<field>. */
  async fetchValues(req: { path: string; params: Record<string, string | string[]> }): Promise<string[]> {
    const vals = await this.getResource<unknown>(req.path, req.params);
    if (!Array.isArray(vals)) {
      throw new Error(`dbsec: ${req.path} did not answer with a JSON array`);
    }
    return vals.map((v) => String(v));
  }

  async metricFindQuery(query: unknown, options?: LegacyMetricFindQueryOptions): Promise<MetricFindValue[]> {
    const vq = this.applyTemplateVariables(variableQueryOf(query), options?.scopedVars ?? {});
    if (!vq.field) {
      throw new Error('dbsec: the variable query names no field');
    }
    const vals = await this.fetchValues(valuesRequest(vq.field, vq.filters, vq.q, rangeMs(options?.range)));
    return vals.map((v) => ({ text: v, value: v }));
  }

  async getTagKeys(_options?: DataSourceGetTagKeysOptions<DbsecQuery>): Promise<MetricFindValue[]> {
    const keys = await this.getResource<unknown>('keys');
    if (!Array.isArray(keys)) {
      throw new Error('dbsec: keys did not answer with a JSON array');
    }
    return keys.map((k) => ({ text: String(k) }));
  }

  async getTagValues(options: DataSourceGetTagValuesOptions<DbsecQuery>): Promise<MetricFindValue[]> {
    const key = filterKeyOf(options.key) ?? options.key;
    const others = adHocToFilters(options.filters, 'values').filter((f) => f.key !== key);
    const vals = await this.fetchValues(valuesRequest(key, others, undefined, rangeMs(options.timeRange)));
    return vals.map((v) => ({ text: v }));
  }

  /** The rule catalogue (resource rules), for the rule filter's suggestions. */
  async getRules(): Promise<RuleInfo[]> {
    const rules = await this.getResource<unknown>('rules');
    if (!Array.isArray(rules)) {
      throw new Error('dbsec: rules did not answer with a JSON array');
    }
    return rules as RuleInfo[];
  }

  // --- "filter for / filter out value" ---

  modifyQuery(query: DbsecQuery, action: QueryFixAction): DbsecQuery {
    return modifyQuery(query, action);
  }

  getSupportedQueryModifications(): string[] {
    return [...SUPPORTED_MODIFICATIONS];
  }

  toggleQueryFilter(query: DbsecQuery, filter: ToggleFilterAction): DbsecQuery {
    return toggleQueryFilter(query, filter.type, filter.options);
  }

  queryHasFilter(query: DbsecQuery, filter: QueryFilterOptions): boolean {
    return queryHasFilter(query, filter);
  }

  // --- log context: the same connection before and after a row ---

  private contextRequest(row: LogRowModel, options?: LogRowContextOptions): DataQueryRequest<DbsecQuery> | undefined {
    const direction = options?.direction === LogRowContextQueryDirection.Forward ? 'FORWARD' : 'BACKWARD';
    const ctx = contextQuery(contextRow(row), direction, options?.limit ?? 50);
    if (!ctx) {
      return undefined;
    }
    const from = dateTime(ctx.range.from);
    const to = dateTime(ctx.range.to);
    return {
      requestId: `dbsec-log-context-${row.uid}-${direction}`,
      app: CoreApp.Explore,
      interval: '1s',
      intervalMs: 1000,
      range: { from, to, raw: { from, to } },
      scopedVars: options?.scopedVars ?? {},
      targets: [{ ...ctx.query, datasource: this.getRef() }],
      timezone: 'UTC',
      startTime: Date.now(),
    };
  }

  async getLogRowContextQuery(row: LogRowModel, options?: LogRowContextOptions): Promise<DbsecQuery | null> {
    return this.contextRequest(row, options)?.targets[0] ?? null;
  }

  async getLogRowContext(row: LogRowModel, options?: LogRowContextOptions): Promise<DataQueryResponse> {
    const req = this.contextRequest(row, options);
    if (!req) {
      return { data: [] };
    }
    return lastValueFrom(this.query(req));
  }

  // --- logs volume in Explore ---

  getSupportedSupplementaryQueryTypes(): SupplementaryQueryType[] {
    return [SupplementaryQueryType.LogsVolume];
  }

  getSupplementaryQuery(options: SupplementaryQueryOptions, query: DbsecQuery): DbsecQuery | undefined {
    return options.type === SupplementaryQueryType.LogsVolume ? logsVolumeQuery(query) : undefined;
  }

  getSupplementaryRequest(
    type: SupplementaryQueryType,
    request: DataQueryRequest<DbsecQuery>
  ): DataQueryRequest<DbsecQuery> | undefined {
    if (type !== SupplementaryQueryType.LogsVolume) {
      return undefined;
    }
    const targets = request.targets.map((t) => logsVolumeQuery(t)).filter((t): t is DbsecQuery => !!t);
    return targets.length ? { ...request, requestId: request.requestId + '_log_volume', targets } : undefined;
  }
}

function rangeMs(r?: { from: { valueOf(): number }; to: { valueOf(): number } }): TimeRangeMs | undefined {
  return r ? { from: r.from.valueOf(), to: r.to.valueOf() } : undefined;
}

/** A row's labels first, then the row's value of a frame field of that name. */
function contextRow(row: LogRowModel): ContextRow {
  return {
    timeEpochMs: row.timeEpochMs,
    get(name: string) {
      for (const [k, v] of Object.entries(row.labels ?? {})) {
        if (filterKeyOf(k) === name && v) {
          return String(v);
        }
      }
      for (const f of row.dataFrame?.fields ?? []) {
        if (filterKeyOf(f.name) === name) {
          const v = f.values[row.rowIndex];
          if (v !== undefined && v !== null && v !== '') {
            return String(v);
          }
        }
      }
      return undefined;
    },
  };
}
