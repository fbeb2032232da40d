package drift

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func FuzzTaosCfg(f *testing.F) {
	if b, err := os.ReadFile("testdata/examples/tdengine/taos.cfg"); err == nil {
		f.Add(b)
	}
	f.Add([]byte("debugFlag 143\nDEBUGFLAG 131 # x\ndataDir /a 0 1\n\x00\r\n#"))
	f.Fuzz(func(t *testing.T, b []byte) {
		d := ParseTaosCfg("taos.cfg", b)
		if d.ParseErr != nil && !errors.Is(d.ParseErr, ErrParse) {
			t.Fatalf("error does not wrap ErrParse: %v", d.ParseErr)
		}
		for _, k := range d.Keys() {
			if _, ok := d.Get(k); !ok {
				t.Fatalf("key %q not retrievable", k)
			}
		}
	})
}

func FuzzEnvFile(f *testing.F) {
	if b, err := os.ReadFile("testdata/examples/redash-setup/opt/redash/env"); err == nil {
		f.Add(b)
	}
	f.Add([]byte("export A='x\nB=\"\nC=v #c\n=\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		d := ParseEnv(".env", b)
		for _, k := range d.Keys() {
			if _, ok := d.Get(k); !ok {
				t.Fatalf("key %q not retrievable", k)
			}
		}
	})
}

func FuzzCompose(f *testing.F) {
	for _, p := range []string{"testdata/examples/redash-dev/compose.yaml", "testdata/examples/redash-setup/compose.yaml"} {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("a: &a {<<: *a}\nservices: {s: {<<: [*a, *a], environment: [X]}}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		docs := Parse(filepath.Join(t.TempDir(), "compose.yaml"), KindCompose, b, ReadOptions{})
		for _, d := range docs {
			if d.ParseErr != nil && !errors.Is(d.ParseErr, ErrParse) {
				t.Fatalf("error does not wrap ErrParse: %v", d.ParseErr)
			}
		}
	})
}
