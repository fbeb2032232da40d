package unified

import (
	"testing"
	"time"

	"github.com/dbsec/dbsec/pkg/parse"
)

func fields(t *testing.T, line string) ([][2]string, error) {
	t.Helper()
	var tok Tokenizer
	tok.Reset([]byte(line))
	var out [][2]string
	for {
		f, ok, err := tok.Next()
		if err != nil {
			return out, err
		}
		if !ok {
			return out, nil
		}
		k := "<pos>"
		if f.Key != nil {
			k = string(f.Key)
		}
		out = append(out, [2]string{k, string(f.Value)})
	}
}

func TestTokenizer(t *testing.T) {
	got, err := fields(t, `[2025/09/06 17:03:53.720 +08:00] [INFO] [logger.go:77] ["open new session"] [SQL_TEXT="select \"[=]\" \n\tx\\y"] [empty=] ["remote addr"=127.0.0.1:64670] [a=b=c] [u=\x41]`)
	if err != nil {
		t.Fatal(err)
	}
	want := [][2]string{
		{"<pos>", "2025/09/06 17:03:53.720 +08:00"}, {"<pos>", "INFO"}, {"<pos>", "logger.go:77"},
		{"<pos>", "open new session"}, {"SQL_TEXT", "select \"[=]\" \n\tx\\y"}, {"empty", ""},
		{"remote addr", "127.0.0.1:64670"}, {"a", "b=c"}, {"u", `\x41`},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d fields %q, want %d", len(got), got, len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("field %d = %q, want %q", i, got[i], want[i])
		}
	}
}

func TestTokenizerErrors(t *testing.T) {
	for _, tc := range []struct {
		line   string
		reason parse.Reason
	}{
		{`[a="unterminated]`, parse.ReasonField},
		{`[a=b`, parse.ReasonSyntax},
		{`[a] x`, parse.ReasonSyntax},
		{`[a="\q"]`, parse.ReasonField},
	} {
		_, err := fields(t, tc.line)
		if err == nil || parse.ReasonOf(err) != tc.reason {
			t.Errorf("%q: err %v, want reason %v", tc.line, err, tc.reason)
		}
	}
}

func TestParseTime(t *testing.T) {
	got, ok := ParseTime([]byte("2025/09/06 17:03:53.720 +08:00"))
	if want := time.Date(2025, 9, 6, 9, 3, 53, 720e6, time.UTC); !ok || !got.Equal(want) {
		t.Errorf("got %v %v, want %v", got, ok, want)
	}
	if got, ok := ParseTime([]byte("2025/09/06 17:03:53 -07:00")); !ok || got.Hour() != 0 || got.Day() != 7 {
		t.Errorf("no fraction: %v %v", got, ok)
	}
	for _, bad := range []string{"", "2025/09/06 17:03:53.720", "2025/13/06 17:03:53.720 +08:00", "2025/09/06T17:03:53.720+08:00", "x"} {
		if _, ok := ParseTime([]byte(bad)); ok {
			t.Errorf("%q accepted", bad)
		}
	}
	b := []byte("2025/09/06 17:03:53.720 +08:00")
	if n := testing.AllocsPerRun(100, func() { ParseTime(b) }); n != 0 {
		t.Errorf("ParseTime allocates %v times", n)
	}
}

func FuzzTokenizer(f *testing.F) {
	f.Add([]byte(`[2025/09/06 17:03:53.720 +08:00] [INFO] [k="v \"q\""] [x=]`))
	f.Add([]byte(`["a b"="c]d"]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var tok Tokenizer
		tok.Reset(b)
		for range len(b) + 1 {
			_, ok, err := tok.Next()
			if err != nil || !ok {
				return
			}
		}
		t.Fatal("tokenizer did not make progress")
	})
}
