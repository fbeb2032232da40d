import React from 'react';
import { InlineField, InlineFieldRow, Input, Select } from '@grafana/ui';

import type { DataSource } from '../datasource';
import { displayText, keysFor, variableQueryOf } from '../query';
import { DbsecQuery, Filter } from '../types';
import { FiltersEditor } from './FiltersEditor';
import { DIMENSION_OPTIONS } from './QueryEditor';

interface Props {
  query: DbsecQuery | string | undefined;
  onChange: (query: DbsecQuery, definition: string) => void;
  datasource: DataSource;
}

/** The editor of a query variable: the distinct values of a field, narrowed by filters and free text. */
export function VariableQueryEditor({ query, onChange, datasource }: Props) {
  const q = variableQueryOf(query);
  const change = (next: DbsecQuery) => {
    const out: DbsecQuery = { refId: next.refId, queryType: 'values', field: next.field || 'user' };
    if (next.filters?.length) {
      out.filters = next.filters;
    }
    if (next.q) {
      out.q = next.q;
    }
    onChange(out, displayText(out));
  };

  return (
    <div>
      <InlineFieldRow>
        <InlineField label="Field" labelWidth={14} tooltip="The field whose distinct values become the variable's options">
          <Select<string>
            inputId="dbsec-var-field"
            width={24}
            options={DIMENSION_OPTIONS}
            value={q.field || null}
            placeholder="choose a field"
            onChange={(o) => o.value && change({ ...q, field: o.value })}
          />
        </InlineField>
      </InlineFieldRow>
      <FiltersEditor
        idPrefix="dbsec-var"
        filters={q.filters ?? []}
        keys={keysFor('values')}
        datasource={datasource}
        onChange={(filters: Filter[]) => change({ ...q, filters })}
      />
      <InlineFieldRow>
        <InlineField label="Text" labelWidth={14} grow tooltip="Only values of events whose statement or record contains this text">
          <Input
            id="dbsec-var-q"
            placeholder="free text (optional)"
            defaultValue={q.q ?? ''}
            onBlur={(e) => change({ ...q, q: e.currentTarget.value.trim() || undefined })}
          />
        </InlineField>
      </InlineFieldRow>
    </div>
  );
}
