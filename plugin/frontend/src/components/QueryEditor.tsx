import React from 'react';
import { QueryEditorProps, SelectableValue } from '@grafana/data';
import { InlineField, InlineFieldRow, Input, RadioButtonGroup, Select } from '@grafana/ui';

import type { DataSource } from '../datasource';
import { FIELDS_BY_TYPE, keysFor, queryTypeOf, withQueryType } from '../query';
import { DIMENSIONS, DbsecOptions, DbsecQuery, Filter, Format, QUERY_TYPES, QUERY_TYPE_INFO, QueryType } from '../types';
import { FiltersEditor } from './FiltersEditor';

type Props = QueryEditorProps<DataSource, DbsecQuery, DbsecOptions>;

const TYPE_OPTIONS: Array<SelectableValue<QueryType>> = QUERY_TYPES.map((t) => ({
  value: t,
  label: QUERY_TYPE_INFO[t].label,
  description: QUERY_TYPE_INFO[t].description,
}));

const FORMAT_OPTIONS: Array<SelectableValue<Format>> = [
  { label: 'Logs', value: 'logs' },
  { label: 'Table', value: 'table' },
];

export const DIMENSION_OPTIONS: Array<SelectableValue<string>> = DIMENSIONS.map((d) => ({ label: d, value: d }));

const GO_DURATION = /^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$/;

/** A Go duration ('5m', '1h30m'), or empty. */
export function validStep(step?: string): boolean {
  return !step || step.startsWith('$') || GO_DURATION.test(step);
}

function parseCount(s: string): number | undefined {
  const n = parseInt(s, 10);
  return Number.isFinite(n) && n > 0 ? n : undefined;
}

export function QueryEditor({ query, onChange, onRunQuery, datasource, range }: Props) {
  const t = queryTypeOf(query);
  const uses = (f: keyof DbsecQuery) => FIELDS_BY_TYPE[t].includes(f);
  const change = (q: DbsecQuery, run = true) => {
    onChange(q);
    if (run) {
      onRunQuery();
    }
  };
  const setNumber = (k: 'top' | 'limit', s: string) => {
    const q: DbsecQuery = { ...query };
    const n = parseCount(s);
    if (n === undefined) {
      delete q[k];
    } else {
      q[k] = n;
    }
    change(q, false);
  };

  return (
    <div>
      <InlineFieldRow>
        <InlineField label="Query type" labelWidth={14} tooltip="What the query returns">
          <Select<QueryType>
            inputId="dbsec-query-type"
            width={28}
            options={TYPE_OPTIONS.filter((o) => o.value !== 'values' || t === 'values')}
            value={t}
            onChange={(o) => o.value && change(withQueryType(query, o.value))}
          />
        </InlineField>
        {uses('format') && (
          <InlineField label="Format" labelWidth={10} tooltip="Logs for the logs panel and Explore, table for the table panel">
            <RadioButtonGroup<Format>
              id="dbsec-format"
              options={FORMAT_OPTIONS}
              value={query.format ?? 'logs'}
              onChange={(format) => change({ ...query, format })}
            />
          </InlineField>
        )}
      </InlineFieldRow>

      {keysFor(t).length > 0 && (
        <FiltersEditor
          idPrefix="dbsec"
          filters={query.filters ?? []}
          keys={keysFor(t)}
          datasource={datasource}
          range={range}
          onChange={(filters: Filter[]) => {
            const q: DbsecQuery = { ...query, filters };
            if (!filters.length) {
              delete q.filters;
            }
            change(q);
          }}
        />
      )}

      {uses('q') && (
        <InlineFieldRow>
          <InlineField label="Text" labelWidth={14} grow tooltip="A case-insensitive substring of the statement or the raw record">
            <Input
              id="dbsec-q"
              placeholder="free text, e.g. DROP TABLE"
              value={query.q ?? ''}
              onChange={(e) => change({ ...query, q: e.currentTarget.value || undefined }, false)}
              onBlur={onRunQuery}
            />
          </InlineField>
        </InlineFieldRow>
      )}

      {uses('field') && (
        <InlineFieldRow>
          <InlineField label="Field" labelWidth={14} tooltip="The field whose distinct values are listed">
            <Select<string>
              inputId="dbsec-field"
              width={18}
              options={DIMENSION_OPTIONS}
              value={query.field ?? 'user'}
              onChange={(o) => o.value && change({ ...query, field: o.value })}
            />
          </InlineField>
        </InlineFieldRow>
      )}

      {(uses('by') || uses('top') || uses('step') || uses('limit')) && (
        <InlineFieldRow>
          {uses('by') && (
            <InlineField label="By" labelWidth={14} tooltip="The dimension: one series or row per value">
              <Select<string>
                inputId="dbsec-by"
                width={18}
                options={DIMENSION_OPTIONS}
                value={query.by ?? 'category'}
                allowCustomValue
                onChange={(o) => o.value && change({ ...query, by: o.value })}
              />
            </InlineField>
          )}
          {uses('top') && (
            <InlineField label="Top" labelWidth={8} tooltip="Keep the N series with the highest totals (default 10)">
              <Input
                id="dbsec-top"
                type="number"
                min={1}
                width={10}
                placeholder="10"
                value={query.top ?? ''}
                onChange={(e) => setNumber('top', e.currentTarget.value)}
                onBlur={onRunQuery}
              />
            </InlineField>
          )}
          {uses('step') && (
            <InlineField
              label="Step"
              labelWidth={8}
              invalid={!validStep(query.step)}
              error="A Go duration such as 30s, 5m or 1h"
              tooltip="Width of each bucket; empty: the panel's interval"
            >
              <Input
                id="dbsec-step"
                width={12}
                placeholder="auto"
                value={query.step ?? ''}
                onChange={(e) => change({ ...query, step: e.currentTarget.value.trim() || undefined }, false)}
                onBlur={onRunQuery}
              />
            </InlineField>
          )}
          {uses('limit') && (
            <InlineField label="Limit" labelWidth={uses('by') ? 8 : 14} tooltip="Most rows returned">
              <Input
                id="dbsec-limit"
                type="number"
                min={1}
                width={10}
                placeholder={t === 'top' ? '10' : '1000'}
                value={query.limit ?? ''}
                onChange={(e) => setNumber('limit', e.currentTarget.value)}
                onBlur={onRunQuery}
              />
            </InlineField>
          )}
        </InlineFieldRow>
      )}
    </div>
  );
}
