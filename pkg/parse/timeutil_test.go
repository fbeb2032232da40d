package parse

import (
	"testing"
	"time"
)

func TestMonth(t *testing.T) {
	for m := time.January; m <= time.December; m++ {
		if got := Month([]byte(m.String()[:3])); got != int(m) {
			t.Errorf("Month(%q) = %d, want %d", m.String()[:3], got, m)
		}
	}
	for _, bad := range []string{"", "jan", "JAN", "Janu", "Ja", "Foo"} {
		if got := Month([]byte(bad)); got != 0 {
			t.Errorf("Month(%q) = %d, want 0", bad, got)
		}
	}
}
