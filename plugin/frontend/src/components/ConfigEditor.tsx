import React from 'react';
import { DataSourcePluginOptionsEditorProps } from '@grafana/data';
import { Button, DataSourceHttpSettings, IconButton, InlineField, InlineFieldRow, Input } from '@grafana/ui';

import { DbsecOptions } from '../types';

type Props = DataSourcePluginOptionsEditorProps<DbsecOptions>;

export const DEFAULT_URL = 'http://localhost:9947';

/** Whether s looks like an exporter address (http or https URL); empty rows are ignored. */
export function validExporterUrl(s: string): boolean {
  if (!s) {
    return true;
  }
  try {
    const u = new URL(s);
    return (u.protocol === 'http:' || u.protocol === 'https:') && !!u.host;
  } catch {
    return false;
  }
}

/**
 * Grafana's standard HTTP settings (the first exporter's URL, basic auth, TLS,
 * timeout) plus further exporters that queries fan out to. The further
 * exporters share the first one's auth and TLS settings.
 */
export function ConfigEditor({ options, onOptionsChange }: Props) {
  const urls = options.jsonData.urls ?? [];
  const setUrls = (next: string[]) => {
    const jsonData: DbsecOptions = { ...options.jsonData, urls: next };
    if (!next.length) {
      delete jsonData.urls;
    }
    onOptionsChange({ ...options, jsonData });
  };

  return (
    <div>
      <DataSourceHttpSettings defaultUrl={DEFAULT_URL} dataSourceConfig={options} onChange={onOptionsChange} showAccessOptions={false} />

      <h3 className="page-heading">Further exporters</h3>
      <p>
        Queries fan out to the exporter above and to each of these, and the results are merged. They use the same
        authentication and TLS settings. An unreachable exporter is reported on the panel; the others still answer.
      </p>
      {urls.map((u, i) => (
        <InlineFieldRow key={i}>
          <InlineField label={`Exporter ${i + 2}`} labelWidth={14} invalid={!validExporterUrl(u)} error="An http:// or https:// URL">
            <Input
              id={`dbsec-url-${i}`}
              width={40}
              placeholder="http://exporter-2:9947"
              value={u}
              onChange={(e) => setUrls(urls.map((x, j) => (j === i ? e.currentTarget.value.trim() : x)))}
            />
          </InlineField>
          <IconButton name="trash-alt" aria-label={`Remove exporter ${i + 2}`} onClick={() => setUrls(urls.filter((_, j) => j !== i))} />
        </InlineFieldRow>
      ))}
      <Button id="dbsec-add-url" variant="secondary" icon="plus" onClick={() => setUrls([...urls, ''])}>
        Add exporter
      </Button>
    </div>
  );
}
