package classify_test

import (
	"os"
	"strings"
	"testing"

	"github.com/dbsec/dbsec/pkg/classify"
	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/sqlx"
)

// TestCategoryTable checks docs/categories.md: every example statement, in
// the dialect of its column, gets the row's action, category and class from
// the per-line classifier and the same action from the detectors' analyser.
func TestCategoryTable(t *testing.T) {
	b, err := os.ReadFile("../../docs/categories.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	start := strings.Index(doc, "<!-- categories:begin -->")
	end := strings.Index(doc, "<!-- categories:end -->")
	if start < 0 || end < start {
		t.Fatal("docs/categories.md: table markers not found")
	}
	dialects := []sqlx.Dialect{sqlx.MySQL, sqlx.Postgres, sqlx.TDengine}
	rows, examples := 0, 0
	seen := map[event.Action]bool{}
	for i, line := range strings.Split(doc[start:end], "\n") {
		if !strings.HasPrefix(line, "| ") || strings.HasPrefix(line, "| statement family") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if len(cells) != 7 {
			t.Fatalf("docs/categories.md table line %d: %d cells, want 7: %s", i, len(cells), line)
		}
		for k := range cells {
			cells[k] = strings.TrimSpace(cells[k])
		}
		act, err := event.ParseAction(cells[4])
		if err != nil {
			t.Fatalf("table line %d: %v", i, err)
		}
		cat, err := event.ParseCategory(cells[5])
		if err != nil {
			t.Fatalf("table line %d: %v", i, err)
		}
		class, err := event.ParseClass(cells[6])
		if err != nil {
			t.Fatalf("table line %d: %v", i, err)
		}
		if act.Category() != cat || act.Class() != class {
			t.Errorf("%s: action %s is %s/%s, the table says %s/%s", cells[0], act, act.Category(), act.Class(), cat, class)
		}
		seen[act] = true
		rows++
		for d, cell := range cells[1:4] {
			for _, ex := range backticked(cell) {
				examples++
				if got := classify.Statement(ex); got != act {
					t.Errorf("%s (%s) %q: classify gives %s, want %s", cells[0], dialects[d], ex, got, act)
				}
				if got := classify.Category(classify.Statement(ex), false); got != cat {
					t.Errorf("%s (%s) %q: category %s, want %s", cells[0], dialects[d], ex, got, cat)
				}
				if a := sqlx.Analyze(ex, dialects[d]); a.Action != act {
					t.Errorf("%s (%s) %q: sqlx gives %s (parsed %v), want %s", cells[0], dialects[d], ex, a.Action, a.Parsed, act)
				}
			}
		}
	}
	// Every statement verb has a row.
	for a := event.ActionCreateTable; a < event.NumActions; a++ {
		if a == event.ActionAuditConfig {
			continue // set by the analyser for SET tidb_audit_*, a refinement of set
		}
		if !seen[a] {
			t.Errorf("action %s has no row in docs/categories.md", a)
		}
	}
	t.Logf("%d statement families, %d examples", rows, examples)
	if rows < 40 || examples < 100 {
		t.Errorf("only %d rows and %d examples read: is the table intact?", rows, examples)
	}
}

func backticked(s string) []string {
	var out []string
	for {
		i := strings.IndexByte(s, '`')
		if i < 0 {
			return out
		}
		j := strings.IndexByte(s[i+1:], '`')
		if j < 0 {
			return out
		}
		out = append(out, s[i+1:i+1+j])
		s = s[i+j+2:]
	}
}
