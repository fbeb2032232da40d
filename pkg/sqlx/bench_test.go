package sqlx

import (
	"strconv"
	"testing"

	"github.com/pingcap/tidb/pkg/parser"

	"github.com/dbsec/dbsec/pkg/classify"
)

var benchSQL = "SELECT o.id, o.total, c.name FROM orders o JOIN customers c ON c.id = o.customer_id WHERE o.state IN ('new', 'paid', 'sent') AND o.created_at > '2026-01-01' ORDER BY o.id LIMIT 50"

// BenchmarkDigestOnly is TiDB's NormalizeDigest alone (the lexer).
func BenchmarkDigestOnly(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		parser.NormalizeDigest(benchSQL)
	}
}

// BenchmarkClassifyFastPath is pkg/classify (the metrics path) for scale.
func BenchmarkClassifyFastPath(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		classify.Statement(benchSQL)
	}
}

// BenchmarkAnalyzeUncached is the full analysis: digest + TiDB Parse + AST
// walk + raw-text rules.
func BenchmarkAnalyzeUncached(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		Analyze(benchSQL, MySQL)
	}
}

// BenchmarkAnalyzeCached is a hot statement: the same text every time.
func BenchmarkAnalyzeCached(b *testing.B) {
	a := New(Options{})
	a.Analyze(benchSQL, MySQL)
	b.ReportAllocs()
	for b.Loop() {
		a.Analyze(benchSQL, MySQL)
	}
}

// BenchmarkAnalyzeCachedMix cycles through 1000 texts with a 4096-entry
// cache (all hits after the first round).
func BenchmarkAnalyzeCachedMix(b *testing.B) {
	texts := make([]string, 1000)
	for i := range texts {
		texts[i] = benchSQL + " -- " + strconv.Itoa(i)
	}
	a := New(Options{})
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		a.Analyze(texts[i%len(texts)], MySQL)
		i++
	}
}

// BenchmarkAnalyzeLexerPostgres is the go-sqllexer fallback, uncached.
func BenchmarkAnalyzeLexerPostgres(b *testing.B) {
	q := "SELECT o.id, o.total FROM orders o WHERE o.state = ANY($1) AND o.created_at > now() - interval '1 day' LIMIT 50"
	b.ReportAllocs()
	for b.Loop() {
		Analyze(q, Postgres)
	}
}

// BenchmarkAnalyzeParallelCached measures lock contention of the cache.
func BenchmarkAnalyzeParallelCached(b *testing.B) {
	a := New(Options{})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			a.Analyze(benchSQL, MySQL)
		}
	})
}
