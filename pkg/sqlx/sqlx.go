// Package sqlx owns full SQL statement analysis for the detectors: the
// statement's action, its digest and normalized text, the tables it touches
// and the security features the rules of pkg/detect look for (broad grants,
// empty passwords, DELETE without WHERE, INTO OUTFILE, stacked statements,
// tautologies, audit-disabling SET statements, …).
//
// The MySQL family (TiDB, MySQL, MariaDB, Percona) is parsed with TiDB's own
// parser (github.com/pingcap/tidb/pkg/parser), and its digest is
// parser.NormalizeDigest, byte-identical to the Digest of TiDB's slow log and
// statement summary. PostgreSQL, TDengine and statements the TiDB parser
// rejects (truncated text, CREATE FUNCTION … SONAME, INSTALL PLUGIN) fall
// back to DataDog's go-sqllexer and keyword rules on the raw text.
// Injection artefacts are looked for in the raw text and the AST before
// normalization, because the digest erases them (1=1 becomes ? = ?).
//
// An Analyzer caches analyses by the statement's shape: Fingerprint, one
// allocation-free lexer pass, replaces the literals by placeholders, so that
// the statements of an application, which differ only in their literals,
// reach the TiDB parser once per shape instead of once per line. Statements
// whose literals or comments matter to the analysis (DDL, DCL, SET, file
// paths, injection artefacts, …; see fingerprint.go) are cached by their text
// as before. Analyze, uncached, is the reference: the differential test
// (diff_test.go) requires the Analyzer to return exactly what Analyze returns
// for every statement.
//
// This package is off the metrics path: pkg/classify and pkg/parse/... must
// not import it (it pulls the TiDB parser, ~10 MB of code).
package sqlx

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"sync"

	"github.com/DataDog/go-sqllexer"
	"github.com/pingcap/tidb/pkg/parser"

	"github.com/dbsec/dbsec/pkg/classify"
	"github.com/dbsec/dbsec/pkg/event"
)

// Dialect selects the parser.
type Dialect uint8

// Dialects.
const (
	// MySQL is the MySQL family: TiDB, MySQL, MariaDB, Percona.
	MySQL Dialect = iota
	// Postgres is PostgreSQL (lexer only).
	Postgres
	// TDengine is TDengine (lexer only).
	TDengine
	// Generic is any other SQL (lexer only, MySQL lexing rules).
	Generic
)

var dialectNames = [...]string{"mysql", "postgres", "tdengine", "generic"}

func (d Dialect) String() string {
	if int(d) < len(dialectNames) {
		return dialectNames[d]
	}
	return "generic"
}

// DialectOf returns the dialect of the statements a system writes.
func DialectOf(s event.System) Dialect {
	switch s {
	case event.SystemTiDB, event.SystemMySQL, event.SystemMariaDB:
		return MySQL
	case event.SystemPostgres:
		return Postgres
	case event.SystemTDengine:
		return TDengine
	}
	return Generic
}

// Var is one variable assignment of a SET / ALTER SYSTEM statement.
type Var struct {
	Name   string // lowercase, without @@ and scope prefixes
	Global bool   // GLOBAL / PERSIST / ALTER SYSTEM
	Value  string // lowercase literal text ("" when not a literal)
}

// Analysis is the result of analysing one statement text. An Analysis
// returned by an Analyzer may be shared with other callers through the
// cache: treat its slices as read-only.
type Analysis struct {
	Dialect Dialect
	// Action of the first statement.
	Action event.Action
	// Digest is the lowercase hex SHA-256 of Normalized; for the MySQL
	// dialect it equals TiDB's statement digest.
	Digest     string
	Normalized string
	Features   Features
	// Statements is the number of statements in the text (>1 = stacked).
	Statements int
	// Parsed is true when the TiDB parser accepted the text; Masked when
	// it did so only once the secrets the server masked (*****,
	// <REDACTED>) were replaced by a placeholder literal.
	Parsed bool
	Masked bool
	// Tables are the objects touched, lowercase, "schema.table" when the
	// schema is written, else "table".
	Tables []string
	// TargetUsers are the accounts a DCL statement acts on (lowercase user
	// names without host).
	TargetUsers []string
	// Paths are file paths and storage URLs (INTO OUTFILE, LOAD DATA,
	// COPY, BACKUP TO), as written, lowercase.
	Paths []string
	// Vars are SET / ALTER SYSTEM assignments.
	Vars []Var
}

// Has reports whether a has all features in f.
func (a *Analysis) Has(f Features) bool { return a.Features&f == f }

// Any reports whether a has any feature in f.
func (a *Analysis) Any(f Features) bool { return a.Features&f != 0 }

// Options of an Analyzer.
type Options struct {
	// CacheSize is the number of entries kept: statement shapes
	// (fingerprints, see Fingerprint) and, for the statements a
	// fingerprint may not stand for, statement texts. 0 means 4096;
	// negative disables the cache.
	CacheSize int
	// CacheBytes bounds the cache's memory (keys and analyses, roughly).
	// 0 means 32 MiB.
	CacheBytes int
	// MaxCachedLen is the longest statement text that is cached; longer
	// texts are analysed every time so that the cache stays bounded in
	// bytes. 0 means 8 KiB.
	MaxCachedLen int
	// TextKeyOnly keys every entry by the statement text, as before the
	// fingerprint (for comparisons and benchmarks).
	TextKeyOnly bool
}

// Analyzer analyses statements, caching results by statement shape: the
// fingerprint of the text with its literals replaced (Fingerprint), when
// the fingerprint may stand for the literals, else the text itself. A
// cached analysis is the one Analyze gives the first statement of the
// shape, which Analyze gives every statement of that shape (see
// fingerprint.go for why). It is safe for concurrent use.
type Analyzer struct {
	cache    *cache
	maxLen   int
	textOnly bool
}

// New returns an Analyzer.
func New(o Options) *Analyzer {
	a := &Analyzer{maxLen: o.MaxCachedLen, textOnly: o.TextKeyOnly}
	if a.maxLen == 0 {
		a.maxLen = 8 << 10
	}
	bytes := o.CacheBytes
	if bytes <= 0 {
		bytes = 32 << 20
	}
	switch {
	case o.CacheSize == 0:
		a.cache = newCache(4096, bytes)
	case o.CacheSize > 0:
		a.cache = newCache(o.CacheSize, bytes)
	}
	return a
}

// keyBufs are the scratch buffers of the cache keys.
var keyBufs = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// Text-keyed entries start with this bit set on the dialect byte;
// fingerprints start with the bare dialect byte.
const textKey = 0x80

// Analyze returns the analysis of sql, from the cache when a statement of
// the same shape (or, for statements whose literals matter, the same text)
// in the same dialect was analysed before. The result shares its slices
// with the cache: treat them as read-only.
func (a *Analyzer) Analyze(sql string, d Dialect) Analysis {
	if a.cache == nil || len(sql) > a.maxLen {
		return Analyze(sql, d)
	}
	bp := keyBufs.Get().(*[]byte)
	if need := 2*len(sql) + 2; cap(*bp) < need {
		*bp = make([]byte, 0, need)
	}
	buf := (*bp)[:0]
	if !a.textOnly && len(sql) <= maxRaw {
		key, ok := fingerprint(buf, sql, d)
		if ok {
			r, found := a.cache.get(key)
			switch {
			case r != nil:
				keyBufs.Put(bp)
				return *r
			case !found:
				if keySafe(key) {
					res := Analyze(sql, d).owned()
					a.cache.add(key, &res)
					keyBufs.Put(bp)
					return res
				}
				// Remember the refusal; the text path counts this
				// statement.
				a.cache.add(key, nil)
				a.cache.uncount(key)
			}
		}
	}
	buf = append(buf[:0], textKey|byte(d))
	buf = append(buf, sql...)
	if r, _ := a.cache.get(buf); r != nil {
		keyBufs.Put(bp)
		return *r
	}
	res := Analyze(sql, d).owned()
	a.cache.add(buf, &res)
	keyBufs.Put(bp)
	return res
}

// CacheStats returns cache hits and misses so far: one of the two for each
// statement short enough to be cached.
func (a *Analyzer) CacheStats() (hits, misses uint64) {
	if a.cache == nil {
		return 0, 0
	}
	return a.cache.stats()
}

// Analyze analyses sql without a cache. Table, user, path and variable
// names in the result may be substrings of sql (the Analyzer copies what it
// caches). It is the reference the Analyzer's cache is checked against.
func Analyze(sql string, d Dialect) Analysis {
	r := Analysis{Dialect: d, Statements: countStatements(sql)}
	if d == MySQL {
		norm, dig := parser.NormalizeDigest(sql)
		r.Normalized, r.Digest = norm, dig.String()
		analyzeMySQL(sql, &r)
	} else {
		r.Normalized = lexNormalize(sql, d, &r)
		sum := sha256.Sum256([]byte(r.Normalized))
		r.Digest = hex.EncodeToString(sum[:])
	}
	if r.Action == event.ActionNone {
		r.Action = classify.Statement(sql)
	}
	if r.Statements > 1 {
		r.Features |= Stacked
	}
	analyzeRaw(sql, &r)
	return r
}

// Digest returns only the digest and normalized text of sql (TiDB's
// NormalizeDigest for the MySQL dialect).
func Digest(sql string, d Dialect) (digest, normalized string) {
	if d == MySQL {
		n, dg := parser.NormalizeDigest(sql)
		return dg.String(), n
	}
	n := lexNormalize(sql, d, nil)
	sum := sha256.Sum256([]byte(n))
	return hex.EncodeToString(sum[:]), n
}

var (
	lexObf  = sqllexer.NewObfuscator(sqllexer.WithReplaceDigits(false))
	lexNorm = sqllexer.NewNormalizer(
		sqllexer.WithCollectTables(true),
		sqllexer.WithCollectCommands(true),
		sqllexer.WithCollectComments(false),
	)
	lexMu sync.Mutex // go-sqllexer's normalizer and obfuscator are stateless, but be safe
)

// lexNormalize runs go-sqllexer: literals become ?, whitespace and case are
// folded; tables are added to r when r is not nil.
func lexNormalize(sql string, d Dialect, r *Analysis) string {
	dbms := sqllexer.DBMSMySQL
	if d == Postgres {
		dbms = sqllexer.DBMSPostgres
	}
	lexMu.Lock()
	norm, meta, err := sqllexer.ObfuscateAndNormalize(sql, lexObf, lexNorm, sqllexer.WithDBMS(dbms))
	lexMu.Unlock()
	if err != nil || norm == "" {
		norm = strings.Join(strings.Fields(strings.ToLower(sql)), " ")
	}
	if r != nil && meta != nil {
		for _, t := range meta.Tables {
			r.Tables = appendUniq(r.Tables, strings.ToLower(strings.Trim(t, "`\"")))
		}
	}
	return strings.ToLower(norm)
}

func appendUniq(s []string, v string) []string {
	if v == "" {
		return s
	}
	for _, x := range s {
		if x == v {
			return s
		}
	}
	return append(s, v)
}

// countStatements counts the non-empty statements separated by ';' outside
// quotes and comments.
func countStatements(s string) int {
	n := 0
	nonEmpty := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\'' || c == '"' || c == '`':
			nonEmpty = true
			for i++; i < len(s); i++ {
				if s[i] == '\\' && c != '`' {
					i++
					continue
				}
				if s[i] == c {
					break
				}
			}
		case c == '-' && i+1 < len(s) && s[i+1] == '-', c == '#':
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(s) && s[i+1] == '*':
			// MySQL executable comments /*! … */ count as content.
			if i+2 < len(s) && s[i+2] == '!' {
				nonEmpty = true
			}
			j := strings.Index(s[i+2:], "*/")
			if j < 0 {
				i = len(s)
			} else {
				i += j + 3
			}
		case c == ';':
			if nonEmpty {
				n++
			}
			nonEmpty = false
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
		default:
			nonEmpty = true
		}
	}
	if nonEmpty {
		n++
	}
	return n
}
