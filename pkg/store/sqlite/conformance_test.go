package sqlite

import (
	"path/filepath"
	"testing"

	"github.com/dbsec/dbsec/pkg/store"
	"github.com/dbsec/dbsec/pkg/store/storetest"
)

// TestConformance runs the store contract's conformance suite on the
// embedded engine.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Engine {
		s, err := Open(Options{Path: filepath.Join(t.TempDir(), "dbsec.db"), Policy: store.Policy{AllStatements: true}})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}, storetest.Options{N: map[bool]int{false: 6000, true: 2000}[raceEnabled], ApproxValues: true})
}
