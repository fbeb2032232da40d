package taosadapter

import (
	"testing"

	"github.com/dbsec/dbsec/pkg/event"
	"github.com/dbsec/dbsec/pkg/parse/parsetest"
	"github.com/dbsec/dbsec/pkg/parse/tdengine"
)

func TestGolden(t *testing.T) {
	parsetest.Golden(t, Format, "taosadapter")
}

// TestLoginCountedOnce reads one wrong password as logged by taosd and by
// taosAdapter and checks that exactly one login failure is counted, and
// that CountLogins moves the count to taosAdapter.
func TestLoginCountedOnce(t *testing.T) {
	taosd := [][]byte{
		[]byte("01/23 10:15:40.118004 00000083 C MND ERROR user:root, failed to login from 127.0.0.1 since Authentication failure, line:1042, db:"),
		[]byte("01/23 10:15:40.118051 00000083 C MND ERROR msg:0x7fd31c01e8a0, failed to process since Authentication failure, app:(nil) type:connect"),
	}
	adapter := [][]byte{
		[]byte("01/23 10:15:40.120301 00000032 RST ERROR QID:0x20000000000043c9 connect server error,ip:127.0.0.1, err:[0x357] Authentication failure"),
		[]byte("01/23 10:15:40.120355 00000032 CNP ERROR connect to taos failed: [0x357] Authentication failure, user:root"),
		[]byte("01/23 10:15:40.120410 00000032 WEB INFO  QID:0x20000000000043c9 finish request, status_code:401, latency:1.204ms, client_ip:127.0.0.1, method:POST, uri:%2Frest%2Fsql"),
	}
	count := func(p interface {
		Parse([]byte, *event.Event) (bool, error)
	}, lines [][]byte) (logins, errs int) {
		var ev event.Event
		for _, l := range lines {
			ev.Reset()
			ok, err := p.Parse(l, &ev)
			if err != nil {
				t.Fatal(err)
			}
			if ok && ev.Category == event.CategoryLogin {
				logins++
			}
			if ok && ev.Category == event.CategoryError {
				errs++
			}
		}
		return
	}
	o := parsetest.Options()
	dl, _ := count(tdengine.New(o), taosd)
	al, ae := count(New(o, Config{}), adapter)
	if dl+al != 1 || ae != 1 {
		t.Errorf("default: taosd %d + taosadapter %d login failures (want 1 in all), %d adapter errors (want 1)", dl, al, ae)
	}
	al, ae = count(New(o, Config{CountLogins: true}), adapter)
	if al != 1 || ae != 0 {
		t.Errorf("CountLogins: %d login failures, %d errors; want 1, 0", al, ae)
	}
}

func FuzzParse(f *testing.F) {
	parsetest.Seed(f, "testdata/taosadapter.log")
	f.Fuzz(func(t *testing.T, data []byte) {
		parsetest.Check(t, Format, data)
	})
}

var (
	lineOld    = []byte(`07/29 14:55:05.587395 00669089 taos_ADAPTER info "| 200 |  1.872017009s |   47.122.21.185 | POST | %2Frest%2Fsql%3Ftz%3DAsia%2FShanghai " model=web req_id=0x3e710fd456c00280`)
	lineNew    = []byte(`01/23 10:16:00.000100 00000032 WEB INFO  QID:0x20000000000043d0 finish request, status_code:200, latency:3.1ms, client_ip:10.0.0.8, method:POST, uri:%2Frest%2Fsql%2Fpower`)
	lineDebug  = []byte(`07/29 14:55:06.482566 00669089 taos_ADAPTER debug "connect server cost: 4.397µs" req_id=0x3e710fd457600285 model=restful`)
	lineAuth   = []byte(`01/23 10:15:40.120301 00000032 RST ERROR QID:0x20000000000043c9 connect server error,ip:127.0.0.1, err:[0x357] Authentication failure`)
	lineDenied = []byte(`01/23 10:16:01.000100 00000032 WEB INFO  QID:0x20000000000043d1 finish request, status_code:403, latency:80µs, client_ip:10.0.0.9, method:POST, uri:%2Frest%2Fsql`)
)

func TestNoAllocs(t *testing.T) {
	p := New(parsetest.Options(), Config{})
	var ev event.Event
	for name, line := range map[string][]byte{"old": lineOld, "new": lineNew, "debug": lineDebug, "auth": lineAuth, "denied": lineDenied} {
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
	}{{"old", lineOld}, {"new", lineNew}, {"debug", lineDebug}, {"auth", lineAuth}} {
		b.Run(bc.name, func(b *testing.B) {
			p := New(parsetest.Options(), Config{})
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
