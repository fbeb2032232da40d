import React, { useState } from 'react';
import { SelectableValue, TimeRange } from '@grafana/data';
import { getTemplateSrv } from '@grafana/runtime';
import { Button, IconButton, InlineField, InlineFieldRow, InlineLabel, RadioButtonGroup, Select } from '@grafana/ui';

import type { DataSource } from '../datasource';
import { closedValues, valuesRequest } from '../query';
import { Filter, FilterOp } from '../types';

// Select rather than Combobox: Combobox is not in Grafana 11.0–11.2, which
// the plugin supports; Select is in every version.

const OP_OPTIONS: Array<SelectableValue<FilterOp>> = [
  { label: '=', value: '=', description: 'equals (several values of one key: any of them)' },
  { label: '!=', value: '!=', description: 'excludes' },
];

interface Props {
  /** Prefix of the controls' ids (unique per editor on a page). */
  idPrefix: string;
  filters: Filter[];
  /** The keys offered. */
  keys: readonly string[];
  datasource: DataSource;
  range?: TimeRange;
  onChange: (filters: Filter[]) => void;
}

// Centres the icon on the 32px row of the inputs beside it.
const iconStyle: React.CSSProperties = { alignSelf: 'center', marginBottom: 4 };

function variableOptions(): Array<SelectableValue<string>> {
  try {
    return getTemplateSrv()
      .getVariables()
      .map((v) => ({ label: '$' + v.name, value: '$' + v.name, description: 'template variable' }));
  } catch {
    return [];
  }
}

/** Suggestions for a key's value: closed sets directly, rules from the catalogue, the rest from values/<key>. */
async function loadValues(ds: DataSource, key: string, others: Filter[], range?: TimeRange): Promise<Array<SelectableValue<string>>> {
  const closed = closedValues(key);
  if (closed) {
    return closed.map((v) => ({ label: v, value: v }));
  }
  if (key === 'rule') {
    const rules = await ds.getRules();
    return rules.map((r) => ({ label: `${r.id} ${r.name}`.trim(), value: r.id, description: `${r.severity}: ${r.title}` }));
  }
  const r = range ? { from: range.from.valueOf(), to: range.to.valueOf() } : undefined;
  const vals = await ds.fetchValues(valuesRequest(key, others, undefined, r));
  return vals.map((v) => ({ label: v, value: v }));
}

interface ValueProps {
  inputId: string;
  filterKey: string;
  value?: string;
  others: Filter[];
  datasource: DataSource;
  range?: TimeRange;
  onChange: (value: string) => void;
}

function ValueSelect({ inputId, filterKey, value, others, datasource, range, onChange }: ValueProps) {
  const closed = closedValues(filterKey);
  const [loaded, setLoaded] = useState<{ key: string; options: Array<SelectableValue<string>> }>();
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<string>();
  const base = closed ? closed.map((v) => ({ label: v, value: v })) : loaded?.key === filterKey ? loaded.options : [];
  const options = [...base, ...variableOptions()];
  if (value && !options.some((o) => o.value === value)) {
    options.unshift({ label: value, value });
  }
  const load = () => {
    if (closed) {
      return;
    }
    setLoading(true);
    setError(undefined);
    loadValues(datasource, filterKey, others, range)
      .then((opts) => setLoaded({ key: filterKey, options: opts }))
      .catch((e) => setError(e instanceof Error ? e.message : String(e?.data?.message ?? e?.statusText ?? e)))
      .finally(() => setLoading(false));
  };
  return (
    <InlineField invalid={!!error} error={error}>
      <Select<string>
        inputId={inputId}
        width={28}
        placeholder="value"
        options={options}
        value={value ? { label: value, value } : null}
        allowCustomValue
        onCreateOption={(v) => onChange(v)}
        onChange={(o) => o?.value !== undefined && onChange(o.value)}
        onOpenMenu={load}
        isLoading={loading}
        noOptionsMessage={error ? 'could not load values' : 'type a value'}
      />
    </InlineField>
  );
}

/**
 * The filters of a query: one row per filter (key, operator, value with
 * suggestions) and a draft row for a new one, which enters the query once it
 * has a value.
 */
export function FiltersEditor({ idPrefix, filters, keys, datasource, range, onChange }: Props) {
  const [draft, setDraft] = useState<{ key: string; op: FilterOp } | undefined>();
  const keyOptions = keys.map((k) => ({ label: k, value: k }));
  const set = (i: number, f: Filter) => onChange(filters.map((x, j) => (j === i ? f : x)));
  const others = (i: number) => filters.filter((_, j) => j !== i && filters[j].value !== '');

  return (
    <InlineFieldRow>
      <InlineLabel width={14} tooltip="Several = filters on one key match any of their values; != excludes; different keys must all match">
        Filters
      </InlineLabel>
      <div>
        {filters.map((f, i) => (
          <InlineFieldRow key={i} id={`${idPrefix}-filter-row-${i}`}>
            <InlineField>
              <Select<string>
                inputId={`${idPrefix}-filter-key-${i}`}
                width={18}
                options={keyOptions}
                value={f.key}
                onChange={(o) => o.value && set(i, { ...f, key: o.value })}
              />
            </InlineField>
            <InlineField>
              <RadioButtonGroup<FilterOp> options={OP_OPTIONS} value={f.op ?? '='} onChange={(op) => set(i, { ...f, op })} />
            </InlineField>
            <ValueSelect
              inputId={`${idPrefix}-filter-value-${i}`}
              filterKey={f.key}
              value={f.value}
              others={others(i)}
              datasource={datasource}
              range={range}
              onChange={(value) => set(i, { ...f, value })}
            />
            <IconButton
              name="trash-alt"
              aria-label={`Remove filter ${i + 1}`}
              style={iconStyle}
              onClick={() => onChange(filters.filter((_, j) => j !== i))}
            />
          </InlineFieldRow>
        ))}
        {draft ? (
          <InlineFieldRow id={`${idPrefix}-filter-row-new`}>
            <InlineField>
              <Select<string>
                inputId={`${idPrefix}-filter-key-new`}
                width={18}
                options={keyOptions}
                value={draft.key}
                onChange={(o) => o.value && setDraft({ ...draft, key: o.value })}
              />
            </InlineField>
            <InlineField>
              <RadioButtonGroup<FilterOp> options={OP_OPTIONS} value={draft.op} onChange={(op) => setDraft({ ...draft, op })} />
            </InlineField>
            <ValueSelect
              inputId={`${idPrefix}-filter-value-new`}
              filterKey={draft.key}
              others={filters}
              datasource={datasource}
              range={range}
              onChange={(value) => {
                setDraft(undefined);
                onChange([...filters, { key: draft.key, op: draft.op, value }]);
              }}
            />
            <IconButton name="times" aria-label="Discard new filter" style={iconStyle} onClick={() => setDraft(undefined)} />
          </InlineFieldRow>
        ) : (
          <InlineFieldRow>
            <InlineField>
              <Button
                id={`${idPrefix}-add-filter`}
                variant="secondary"
                icon="plus"
                disabled={keys.length === 0}
                onClick={() => setDraft({ key: keys[0], op: '=' })}
              >
                Filter
              </Button>
            </InlineField>
          </InlineFieldRow>
        )}
      </div>
    </InlineFieldRow>
  );
}
