// src/types.ts must mirror pkg/grafana/model/model.go, the Go model the
// backend reads: query types (and their order), formats, operators, filter
// keys, dimensions, and the JSON names of Query, Filter and Settings.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import ts from 'typescript';

import { FRONTEND, REPO, importSource } from './lib/bundle.mjs';

const goSrc = readFileSync(join(REPO, 'pkg/grafana/model/model.go'), 'utf8');
const tsSrc = readFileSync(join(FRONTEND, 'src/types.ts'), 'utf8');
let T;
before(async () => {
  T = await importSource('src/types.ts');
});

/** name → value of every `Name Type = "value"` or `Name = "value"` constant. */
function goConsts() {
  const out = new Map();
  for (const m of goSrc.matchAll(/^\s*([A-Z]\w*)\s+(?:\w+\s+)?=\s*"([^"]*)"/gm)) {
    out.set(m[1], m[2]);
  }
  return out;
}

/** The values of the names listed in `func name() []T { return []T{A, B, …} }`. */
function goList(func) {
  const m = goSrc.match(new RegExp(`func ${func}\\(\\)[^{]*\\{\\s*return \\[\\]\\w+\\{([^}]*)\\}`));
  assert.ok(m, `model.go has no func ${func}() returning a list`);
  const consts = goConsts();
  return m[1]
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((name) => {
      assert.ok(consts.has(name), `model.go: ${func}() lists ${name}, which is no string constant`);
      return consts.get(name);
    });
}

/** JSON names of the fields of a Go struct. */
function goJsonFields(struct) {
  const m = goSrc.match(new RegExp(`type ${struct} struct \\{([\\s\\S]*?)\\n\\}`));
  assert.ok(m, `model.go has no struct ${struct}`);
  return [...m[1].matchAll(/`json:"([^",]+)/g)].map((x) => x[1]);
}

/** Property names declared by an interface of src/types.ts. */
function tsMembers(name) {
  const sf = ts.createSourceFile('types.ts', tsSrc, ts.ScriptTarget.ES2020, true);
  const decl = sf.statements.find((s) => ts.isInterfaceDeclaration(s) && s.name.text === name);
  assert.ok(decl, `src/types.ts has no interface ${name}`);
  return decl.members.filter(ts.isPropertySignature).map((p) => p.name.getText(sf));
}

test('query types and their order', () => {
  const values = [...goSrc.matchAll(/^\s*\w+\s+QueryType\s*=\s*"([^"]+)"/gm)].map((m) => m[1]);
  assert.equal(values.length, 9, 'model.go declares nine query types');
  assert.deepEqual([...T.QUERY_TYPES].sort(), [...values].sort());
  assert.deepEqual([...T.QUERY_TYPES], goList('QueryTypes'));
});

test('formats and operators', () => {
  const c = goConsts();
  assert.deepEqual([...T.FORMATS], [c.get('FormatLogs'), c.get('FormatTable')]);
  assert.deepEqual([...T.OPS], [c.get('OpEqual'), c.get('OpNotEqual')]);
});

test('filter keys', () => {
  const keys = goList('FilterKeys');
  const declared = [...goConsts()].filter(([n]) => n.startsWith('Key')).map(([, v]) => v);
  assert.deepEqual([...keys].sort(), [...declared].sort(), 'FilterKeys() lists every Key constant');
  assert.deepEqual([...T.FILTER_KEYS], keys);
  for (const [t, ks] of Object.entries(T.KEYS_BY_TYPE)) {
    for (const k of ks) {
      assert.ok(keys.includes(k), `KEYS_BY_TYPE.${t} names ${k}, which is no filter key`);
    }
  }
  for (const k of Object.keys(T.CLOSED_VALUES)) {
    assert.ok(keys.includes(k), `CLOSED_VALUES names ${k}, which is no filter key`);
  }
});

test('dimensions (the list in the comment on Query.By)', () => {
  const m = goSrc.match(/\/\/ By is the dimension[^:]*:([\s\S]*?)\.\n/);
  assert.ok(m, 'model.go documents the dimensions on Query.By');
  const dims = m[1]
    .replace(/\/\//g, ' ')
    .split(/,|\bor\b/)
    .map((s) => s.trim())
    .filter(Boolean);
  assert.ok(dims.length >= 5, `parsed dimensions: ${dims}`);
  assert.deepEqual([...T.DIMENSIONS], dims);
});

test('JSON names of Query, Filter and Settings', () => {
  const goQuery = goJsonFields('Query');
  assert.ok(goQuery.includes('refId'));
  // refId comes from Grafana's DataQuery, which DbsecQuery extends.
  assert.deepEqual(tsMembers('DbsecQuery').sort(), goQuery.filter((f) => f !== 'refId').sort());
  assert.deepEqual(tsMembers('Filter').sort(), goJsonFields('Filter').sort());
  assert.deepEqual(tsMembers('DbsecOptions').sort(), goJsonFields('Settings').sort());
});
