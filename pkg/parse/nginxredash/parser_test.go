package nginxredash

import (
	"strings"
	"testing"

	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/parse/parsetest"
)

func TestGolden(t *testing.T) {
	parsetest.Golden(t, Format, "nginx")
	recs := parsetest.Golden(t, Format, "nginx_real")
	for _, r := range recs {
		if r.Event != nil && strings.Contains(r.Event.Raw+strings.Join(r.Event.Objects, ""), "SECRET123") {
			t.Errorf("line %d: api key not redacted", r.Line)
		}
	}
}

func TestRedactAPIKeys(t *testing.T) {
	for in, want := range map[string]string{
		"/q?api_key=abc&x=1":        "/q?api_key=***&x=1",
		"/q?api_key=abc":            "/q?api_key=***",
		"/q?a=1&api_key=":           "/q?a=1&api_key=",
		"r=%2Fq%3Fapi_key%3Dabc%26": "r=%2Fq%3Fapi_key%3D***%26",
		"api_key=a api_key=b":       "api_key=*** api_key=***",
		"none":                      "none",
	} {
		if got := string(RedactAPIKeys(nil, []byte(in))); got != want {
			t.Errorf("%q: got %q, want %q", in, got, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	parsetest.Seed(f, "testdata/nginx.log", "testdata/nginx_real.log")
	f.Fuzz(func(t *testing.T, data []byte) {
		parsetest.Check(t, Format, data)
		p := New(FormatName)
		var ev event.Event
		for _, l := range strings.Split(string(data), "\n") {
			ev.Reset()
			if ok, _ := p.Parse([]byte(l), &ev); ok && strings.Contains(l, "api_key=SECRET") &&
				strings.Contains(ev.Raw+strings.Join(ev.Objects, "")+ev.User, "api_key=SECRET") {
				t.Fatalf("api key leaked: %q", l)
			}
		}
	})
}

var (
	lineIgnored = []byte(`172.19.0.9 - - [14/Oct/2025:13:35:58 +0000] "POST /identities/api/ HTTP/1.1" 200 378 "http://nginx:8000/identities/api/" "python-requests/2.32.5" "-"`)
	lineLogin   = []byte(`203.0.113.9 - - [12/Jul/2026:15:54:51 +0100] "POST /login HTTP/1.1" 200 16236 "https://redash.example.com/login" "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36" "-"`)
	lineTLS     = []byte(`172.105.128.11 - - [19/Apr/2023:16:33:58 +0200] "\x16\x03\x01\x00\x85\x01\x00\x00\x81\x03\x039W\xE7VO\xF0\x9C\x08k\x16\xA7T\x06\xC0\xEE\x83" 400 150 "-" "-"`)
	lineDenied  = []byte(`192.168.1.121 - - [27/May/2024:13:01:52 +0000] "GET /api/user HTTP/1.1" 403 0 "http://192.168.1.122:3030/" "Mozilla/5.0 (Windows NT 10.0; Win64; x64)"`)
	lineAPIKey  = []byte(`10.1.2.4 - - [03/Mar/2024:10:00:07 +0000] "GET /api/queries/5/results.csv?api_key=Zx9Kq2mN4pL7&foo=1 HTTP/1.1" 200 5120 "-" "curl/8.5.0" "-"`)
)

func TestNoAllocs(t *testing.T) {
	p := New(FormatName)
	var ev event.Event
	for name, line := range map[string][]byte{"ignored": lineIgnored, "login": lineLogin, "tls": lineTLS, "denied": lineDenied, "apikey": lineAPIKey} {
		allocs := testing.AllocsPerRun(200, func() {
			ev.Reset()
			if _, err := p.Parse(line, &ev); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocs/op, want 0", name, allocs)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	for _, bc := range []struct {
		name string
		line []byte
	}{{"ignored", lineIgnored}, {"login", lineLogin}, {"tls", lineTLS}, {"apikey", lineAPIKey}} {
		b.Run(bc.name, func(b *testing.B) {
			p := New(FormatName)
			var ev event.Event
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.line)))
			for b.Loop() {
				ev.Reset()
				_, _ = p.Parse(bc.line, &ev)
			}
		})
	}
}
