// The data source's query logic (src/query.ts): interpolation, ad hoc
// filters, filter actions, resource requests, log context, logs volume.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';

import { importSource } from './lib/bundle.mjs';
import { templateSrv } from './lib/templatesrv.mjs';

let Q;
before(async () => {
  Q = await importSource('src/query.ts');
});

const interp = (vars, scopedVars) => {
  const srv = templateSrv(vars);
  return (text, format) => srv.replace(text, scopedVars, format);
};

describe('defaults', () => {
  test('a new panel query is an events query in logs format; an alert rule starts with a series', () => {
    assert.deepEqual(Q.defaultQuery('panel-editor'), { queryType: 'events', format: 'logs' });
    assert.deepEqual(Q.defaultQuery('explore'), { queryType: 'events', format: 'logs' });
    assert.deepEqual(Q.defaultQuery('unified-alerting'), { queryType: 'series', by: 'category' });
  });

  test('a query without a known type is an events query', () => {
    assert.equal(Q.queryTypeOf({}), 'events');
    assert.equal(Q.queryTypeOf({ queryType: 'nonsense' }), 'events');
    assert.equal(Q.queryTypeOf({ queryType: 'drift_changes' }), 'drift_changes');
  });
});

describe('switching the query type', () => {
  test('keeps what the new type takes and drops the rest', () => {
    const q = {
      refId: 'A',
      queryType: 'series',
      by: 'user',
      top: 5,
      step: '5m',
      q: 'drop',
      filters: [
        { key: 'rule', op: '=', value: 'R1' },
        { key: 'user', op: '=', value: 'alice' },
      ],
    };
    assert.deepEqual(Q.withQueryType(q, 'findings'), {
      refId: 'A',
      queryType: 'findings',
      filters: [{ key: 'rule', op: '=', value: 'R1' }],
    });
    assert.deepEqual(Q.withQueryType(q, 'events'), {
      refId: 'A',
      queryType: 'events',
      format: 'logs',
      q: 'drop',
      filters: q.filters,
    });
    assert.deepEqual(Q.withQueryType({ refId: 'A', queryType: 'events', format: 'table' }, 'top'), {
      refId: 'A',
      queryType: 'top',
      by: 'category',
    });
    assert.deepEqual(Q.withQueryType({ refId: 'A', filters: [{ key: 'user', value: 'x' }] }, 'status'), {
      refId: 'A',
      queryType: 'status',
    });
  });
});

describe('template variables', () => {
  test('single-value variables in filter values, text, by and step', () => {
    const q = {
      refId: 'A',
      queryType: 'series',
      filters: [
        { key: 'user', op: '=', value: '$user' },
        { key: 'system', value: '${system}' },
      ],
      q: 'table [[tbl]]',
      by: '$dim',
      step: '$step',
    };
    const out = Q.interpolateQuery(q, interp({ user: 'alice', system: 'tidb', tbl: 'orders', dim: 'client_ip', step: '1m' }));
    assert.deepEqual(out, {
      refId: 'A',
      queryType: 'series',
      filters: [
        { key: 'user', op: '=', value: 'alice' },
        { key: 'system', op: '=', value: 'tidb' },
      ],
      q: 'table orders',
      by: 'client_ip',
      step: '1m',
    });
    assert.equal(q.filters[0].value, '$user', 'the panel query itself is not changed');
  });

  test('a multi-value variable becomes one filter per value, for = and for !=', () => {
    const q = {
      refId: 'A',
      filters: [
        { key: 'user', op: '=', value: '$users' },
        { key: 'client_ip', op: '!=', value: '$blocked' },
      ],
    };
    const out = Q.interpolateQuery(q, interp({ users: ['alice', 'bob', 'carol'], blocked: ['10.0.0.1', '10.0.0.2'] }));
    assert.deepEqual(out.filters, [
      { key: 'user', op: '=', value: 'alice' },
      { key: 'user', op: '=', value: 'bob' },
      { key: 'user', op: '=', value: 'carol' },
      { key: 'client_ip', op: '!=', value: '10.0.0.1' },
      { key: 'client_ip', op: '!=', value: '10.0.0.2' },
    ]);
  });

  test('text around a multi-value variable, and two of them, expand to every combination', () => {
    const vars = { env: ['prod', 'stage'], n: ['1', '2'] };
    assert.deepEqual(Q.expandValues('db-$env-${n}', interp(vars)), ['db-prod-1', 'db-prod-2', 'db-stage-1', 'db-stage-2']);
    assert.deepEqual(Q.expandValues('plain', interp(vars)), ['plain']);
    assert.deepEqual(Q.expandValues('$missing', interp(vars)), ['$missing'], 'an unknown variable stays as written');
  });

  test('a multi-value variable in the free text is joined by commas', () => {
    assert.equal(Q.interpolateQuery({ refId: 'A', q: '$t' }, interp({ t: ['a', 'b'] })).q, 'a,b');
  });

  test('scoped variables (repeated panels) win over dashboard variables', () => {
    const out = Q.interpolateQuery(
      { refId: 'A', filters: [{ key: 'source', value: '$src' }] },
      interp({ src: ['a', 'b'] }, { src: { text: 'c', value: 'c' } })
    );
    assert.deepEqual(out.filters, [{ key: 'source', op: '=', value: 'c' }]);
  });
});

describe('ad hoc filters', () => {
  const adhoc = [
    { key: 'user', operator: '=', value: 'carol' },
    { key: 'client_ip', operator: '!=', value: '10.1.1.1' },
    { key: 'system', operator: '=|', value: '', values: ['tidb', 'mysql'] },
    { key: 'category', operator: '=~', value: 'dd.*' },
    { key: 'severity', operator: '=', value: 'high' },
    { key: 'no_such_key', operator: '=', value: 'x' },
  ];

  test('are appended to an events query with = and !=, one-of operators expanded, regex and unknown keys skipped', () => {
    const out = Q.interpolateQuery({ refId: 'A', queryType: 'events', filters: [{ key: 'user', op: '=', value: 'carol' }] }, interp({}), adhoc);
    assert.deepEqual(out.filters, [
      { key: 'user', op: '=', value: 'carol' },
      { key: 'client_ip', op: '!=', value: '10.1.1.1' },
      { key: 'system', op: '=', value: 'tidb' },
      { key: 'system', op: '=', value: 'mysql' },
    ]);
  });

  test('only keys the query type takes are applied', () => {
    const findings = Q.interpolateQuery({ refId: 'B', queryType: 'findings' }, interp({}), adhoc);
    assert.deepEqual(findings.filters, [{ key: 'severity', op: '=', value: 'high' }]);
    const status = Q.interpolateQuery({ refId: 'C', queryType: 'status' }, interp({}), adhoc);
    assert.equal(status.filters, undefined);
  });
});

describe('filter for / filter out value', () => {
  const base = { refId: 'A', queryType: 'events', filters: [{ key: 'system', op: '=', value: 'tidb' }] };

  test('ADD_FILTER adds =, ADD_FILTER_OUT adds !=, each replacing its opposite', () => {
    const a = Q.modifyQuery(base, { type: 'ADD_FILTER', options: { key: 'user', value: 'alice' } });
    assert.deepEqual(a.filters, [...base.filters, { key: 'user', op: '=', value: 'alice' }]);
    const b = Q.modifyQuery(a, { type: 'ADD_FILTER_OUT', options: { key: 'user', value: 'alice' } });
    assert.deepEqual(b.filters, [...base.filters, { key: 'user', op: '!=', value: 'alice' }]);
    assert.deepEqual(Q.modifyQuery(b, { type: 'ADD_FILTER_OUT', options: { key: 'user', value: 'alice' } }), b, 'twice is once');
  });

  test('log labels and table columns map to filter keys', () => {
    const out = Q.modifyQuery(base, { type: 'ADD_FILTER', options: { key: 'Client IP', value: '10.0.0.9' } });
    assert.deepEqual(out.filters.at(-1), { key: 'client_ip', op: '=', value: '10.0.0.9' });
    const conn = Q.modifyQuery(base, { type: 'ADD_FILTER', options: { key: 'connection', value: '42' } });
    assert.deepEqual(conn.filters.at(-1), { key: 'connection_id', op: '=', value: '42' });
  });

  test('a field that is no filter key of the query type leaves the query as it is', () => {
    assert.equal(Q.modifyQuery(base, { type: 'ADD_FILTER', options: { key: 'statement', value: 'SELECT 1' } }), base);
    const findings = { refId: 'A', queryType: 'findings' };
    assert.equal(Q.modifyQuery(findings, { type: 'ADD_FILTER', options: { key: 'user', value: 'bob' } }), findings);
    assert.equal(Q.modifyQuery(base, { type: 'SOMETHING_ELSE', options: { key: 'user', value: 'bob' } }), base);
  });

  test('ADD_STRING_FILTER sets the free text', () => {
    assert.equal(Q.modifyQuery(base, { type: 'ADD_STRING_FILTER', options: { value: 'GRANT' } }).q, 'GRANT');
  });

  test('toggling from log details adds and removes, and queryHasFilter tells which is active', () => {
    const on = Q.toggleQueryFilter(base, 'FILTER_FOR', { key: 'user', value: 'bob' });
    assert.equal(Q.queryHasFilter(on, { key: 'user', value: 'bob' }), true);
    const off = Q.toggleQueryFilter(on, 'FILTER_FOR', { key: 'user', value: 'bob' });
    assert.equal(Q.queryHasFilter(off, { key: 'user', value: 'bob' }), false);
    assert.deepEqual(off.filters, base.filters);
    const out = Q.toggleQueryFilter(on, 'FILTER_OUT', { key: 'user', value: 'bob' });
    assert.deepEqual(out.filters.at(-1), { key: 'user', op: '!=', value: 'bob' });
    assert.equal(Q.queryHasFilter(out, { key: 'user', value: 'bob', type: 'FILTER_OUT' }), true);
    assert.equal(Q.queryHasFilter(out, { key: 'user', value: 'bob' }), false);
  });
});

describe('values resource requests', () => {
  test('from/to in ms, = filters as key=value (repeated), != filters as key!=value, q', () => {
    const r = Q.valuesRequest(
      'user',
      [
        { key: 'system', op: '=', value: 'tidb' },
        { key: 'system', op: '=', value: 'mysql' },
        { key: 'category', op: '!=', value: 'read' },
        { key: 'source', value: 's1' },
      ],
      'orders',
      { from: 1700000000000.4, to: 1700003600000.2 }
    );
    assert.deepEqual(r, {
      path: 'values/user',
      params: { from: '1700000000000', to: '1700003600001', system: ['tidb', 'mysql'], not_category: 'read', source: 's1', q: 'orders' },
    });
  });

  test('a variable query is the editor\'s object or a bare field name', () => {
    assert.deepEqual(Q.variableQueryOf(' client_ip '), { refId: 'variable', queryType: 'values', field: 'client_ip' });
    assert.deepEqual(Q.variableQueryOf({ refId: 'V', field: 'user', filters: [{ key: 'system', value: 'tidb' }] }), {
      refId: 'V',
      queryType: 'values',
      field: 'user',
      filters: [{ key: 'system', value: 'tidb' }],
    });
    assert.equal(Q.variableQueryOf({ by: 'rule' }).field, 'rule', 'by is an alias of field');
  });
});

describe('log context', () => {
  const row = (labels, t = 1_700_000_000_000) => ({ timeEpochMs: t, get: (k) => labels[k] });

  test('the same connection and source, in the hour before or after the row', () => {
    const back = Q.contextQuery(row({ source: 'tidb-1', connection_id: '77', user: 'alice' }), 'BACKWARD', 20);
    assert.deepEqual(back.query, {
      refId: 'log-context',
      queryType: 'events',
      format: 'logs',
      filters: [
        { key: 'source', op: '=', value: 'tidb-1' },
        { key: 'connection_id', op: '=', value: '77' },
      ],
      limit: 20,
    });
    assert.deepEqual(back.range, { from: 1_700_000_000_000 - 3_600_000, to: 1_700_000_000_000 });
    const fwd = Q.contextQuery(row({ source: 'tidb-1', connection_id: '77' }), 'FORWARD', 20);
    assert.deepEqual(fwd.range, { from: 1_700_000_000_000, to: 1_700_000_000_000 + 3_600_000 });
  });

  test('without a connection id the user and client address stand in; with neither there is no context', () => {
    const c = Q.contextQuery(row({ source: 's', user: 'bob', client_ip: '10.0.0.5' }), 'BACKWARD', 10);
    assert.deepEqual(
      c.query.filters.map((f) => f.key),
      ['source', 'user', 'client_ip']
    );
    assert.equal(Q.contextQuery(row({ source: 's' }), 'BACKWARD', 10), undefined);
  });
});

describe('logs volume and display text', () => {
  test('an events query gets a series of its events by category; other queries get none', () => {
    const q = { refId: 'A', queryType: 'events', format: 'logs', filters: [{ key: 'user', op: '=', value: 'bob' }], q: 'drop', limit: 100 };
    assert.deepEqual(Q.logsVolumeQuery(q), {
      refId: 'log-volume-A',
      queryType: 'series',
      by: 'category',
      filters: q.filters,
      q: 'drop',
    });
    assert.equal(Q.logsVolumeQuery({ refId: 'B', queryType: 'top' }), undefined);
    assert.equal(Q.logsVolumeQuery({ ...q, hide: true }), undefined);
  });

  test('display text names the type, dimension, filters and text', () => {
    assert.equal(
      Q.displayText({ refId: 'A', queryType: 'top', by: 'user', filters: [{ key: 'outcome', op: '!=', value: 'success' }], q: 'x y' }),
      'top by user outcome!=success "x y"'
    );
  });
});
