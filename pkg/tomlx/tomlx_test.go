package tomlx

import (
	"errors"
	"strings"
	"testing"
)

func TestPositionsScanner(t *testing.T) {
	src := "a = 1\n[t]\n  \"quoted key\" = '''\nx = 2\n'''\nb = [\n 1,\n]\n[[s]]\nk = 1\n[[s]]\nk = 2 # c\n"
	p := Scan(src)
	for path, want := range map[string]pos{"a": {1, 1}, "t.quoted key": {3, 3}, "t.b": {6, 1}, "s.0.k": {10, 1}, "s.1.k": {12, 1}, "s.k": {10, 1}} {
		if got := p.keys[path]; got != want {
			t.Errorf("%s at %v, want %v", path, got, want)
		}
	}
	if _, ok := p.keys["t.x"]; ok {
		t.Error("a line inside a multi-line string was taken for a key")
	}
	if l, c := p.Value("s.1.k"); l != 12 || c != 5 {
		t.Errorf("value of s.1.k at %d:%d, want 12:5", l, c)
	}
	if l, c := p.Key("t.missing"); l != 2 || c != 1 {
		t.Errorf("a missing key falls back to its table: %d:%d, want 2:1", l, c)
	}
}

var errSentinel = errors.New("sentinel")

func TestDecodeStrict(t *testing.T) {
	type conf struct {
		Name string `toml:"name"`
		Sub  struct {
			N int `toml:"n"`
		} `toml:"sub"`
	}
	var c conf
	d, err := Decode("f.toml", []byte("name = \"x\"\nnmae = 1\n[sub]\nn = 2\nextra = true\n"), &c, errSentinel)
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "x" || c.Sub.N != 2 {
		t.Fatalf("decoded %+v", c)
	}
	d.ValueErrorf("sub.n", "n must be odd")
	err = d.Err()
	want := "f.toml:2:1: unknown key \"nmae\"\nf.toml:4:5: n must be odd\nf.toml:5:1: unknown key \"sub.extra\""
	if err == nil || err.Error() != want {
		t.Fatalf("got\n%v\nwant\n%s", err, want)
	}
	if !errors.Is(err, errSentinel) {
		t.Error("errors do not wrap the sentinel")
	}
	var es Errors
	if !errors.As(err, &es) || len(es) != 3 {
		t.Errorf("errors.As Errors: %v", es)
	}

	_, err = Decode("g.toml", []byte("a = [1,\nb = 2\n"), &c, nil)
	var e Errors
	if !errors.As(err, &e) || len(e) != 1 || e[0].Line != 2 || !strings.HasPrefix(err.Error(), "g.toml:2:") {
		t.Errorf("syntax error not positioned: %v", err)
	}
}
