package sqlx

import (
	"fmt"
	"strconv"
	"sync/atomic"
	"syscall"
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

// literalStream returns n statements of a few realistic shapes in which
// every statement carries its own literals, as audit logs of applications
// do. n is larger than the default cache, so that a cache keyed by the text
// never hits.
func literalStream(n int, d Dialect) []string {
	var tpls []string
	if d == Postgres {
		tpls = []string{
			"SELECT id, total FROM orders WHERE customer_id = %d AND created_at > '2026-01-%02d'::date ORDER BY id LIMIT 50",
			"INSERT INTO events (user_id, kind, payload) VALUES (%d, 'click', '{\"x\": %d}')",
			"UPDATE users SET last_seen = '2026-11-30 01:%02d:00' WHERE id = %d",
			"SELECT * FROM accounts WHERE email = 'user%d@example.com' AND tenant_id = %d",
		}
	} else {
		tpls = []string{
			"SELECT o.id, o.total, c.name FROM orders o JOIN customers c ON c.id = o.customer_id WHERE o.state IN ('new', 'paid', 'sent') AND o.created_at > '2026-01-%02d' ORDER BY o.id LIMIT %d",
			"INSERT INTO orders (customer_id, total, state, note) VALUES (%d, %d.50, 'new', 'order')",
			"UPDATE accounts SET balance = balance - %d, updated_at = NOW() WHERE id = %d",
			"SELECT * FROM users WHERE email = 'user%d@example.com' AND active = %d LIMIT 1",
			"DELETE FROM sessions WHERE id = '%x' AND expires < %d",
			"SELECT COUNT(*) FROM events WHERE user_id = %d AND ts > %d",
		}
	}
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf(tpls[i%len(tpls)], 1000+i*7, 1+i%28)
	}
	return out
}

const streamLen = 20000

// cpuNS is the process's CPU time (user + system, every thread, GC
// included). The benchmarks report it per op beside ns/op because this
// machine is shared: wall time per op is inflated by other processes, CPU
// time much less.
func cpuNS() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// loop runs f b.N times (b.Loop) and reports the CPU time per op.
func loop(b *testing.B, f func(i int)) {
	b.ReportAllocs()
	c0 := cpuNS()
	i := 0
	for b.Loop() {
		f(i)
		i++
	}
	if i > 0 {
		b.ReportMetric(float64(cpuNS()-c0)/float64(i), "cpu-ns/op")
	}
}

func benchStream(b *testing.B, d Dialect, o Options) {
	stream := literalStream(streamLen, d)
	a := New(o)
	for _, s := range stream[:64] {
		a.Analyze(s, d)
	}
	h0, m0 := a.CacheStats()
	loop(b, func(i int) { a.Analyze(stream[i%len(stream)], d) })
	h, m := a.CacheStats()
	if h+m > h0+m0 {
		b.ReportMetric(100*float64(h-h0)/float64(h+m-h0-m0), "%hits")
	}
}

// BenchmarkStreamFingerprintHit is the per-line cost that matters: a
// statement of a known shape with fresh literals, from the fingerprint
// cache (MySQL family).
func BenchmarkStreamFingerprintHit(b *testing.B) { benchStream(b, MySQL, Options{}) }

// BenchmarkStreamFingerprintHitPostgres is the same for PostgreSQL.
func BenchmarkStreamFingerprintHitPostgres(b *testing.B) { benchStream(b, Postgres, Options{}) }

// BenchmarkStreamTextKey is the cache keyed by the statement text (before
// the fingerprint) on the same stream: it misses every time.
func BenchmarkStreamTextKey(b *testing.B) { benchStream(b, MySQL, Options{TextKeyOnly: true}) }

// BenchmarkStreamTextKeyPostgres is the same for PostgreSQL.
func BenchmarkStreamTextKeyPostgres(b *testing.B) {
	benchStream(b, Postgres, Options{TextKeyOnly: true})
}

// BenchmarkStreamUncached is Analyze on the same stream (no cache).
func BenchmarkStreamUncached(b *testing.B) {
	stream := literalStream(streamLen, MySQL)
	loop(b, func(i int) { Analyze(stream[i%len(stream)], MySQL) })
}

// BenchmarkStreamFingerprint is the lexer pass alone.
func BenchmarkStreamFingerprint(b *testing.B) {
	stream := literalStream(streamLen, MySQL)
	buf := make([]byte, 0, 4096)
	loop(b, func(i int) { fingerprint(buf, stream[i%len(stream)], MySQL) })
}

// BenchmarkStreamTiDBNormalizeDigest is the baseline lexer-only
// normaliser: TiDB's own.
func BenchmarkStreamTiDBNormalizeDigest(b *testing.B) {
	stream := literalStream(streamLen, MySQL)
	loop(b, func(i int) { parser.NormalizeDigest(stream[i%len(stream)]) })
}

// BenchmarkStreamSQLLexer is the other baseline: DataDog's go-sqllexer
// obfuscate-and-normalize, as lexNormalize runs it.
func BenchmarkStreamSQLLexer(b *testing.B) {
	stream := literalStream(streamLen, MySQL)
	loop(b, func(i int) { lexNormalize(stream[i%len(stream)], MySQL, nil) })
}

// BenchmarkStreamFingerprintHitParallel measures the cache's locks with
// every P analysing the literal stream.
func BenchmarkStreamFingerprintHitParallel(b *testing.B) {
	stream := literalStream(streamLen, MySQL)
	a := New(Options{})
	for _, s := range stream[:64] {
		a.Analyze(s, MySQL)
	}
	b.ReportAllocs()
	var next atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		i := int(next.Add(1000))
		for pb.Next() {
			a.Analyze(stream[i%len(stream)], MySQL)
			i++
		}
	})
}
