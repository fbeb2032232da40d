package victorialogs

import (
	"testing"
	"time"

	"github.com/dbsec/dbsec/pkg/store"
	"github.com/dbsec/dbsec/pkg/store/storetest"
	"github.com/dbsec/dbsec/pkg/store/victorialogs/vltest"
)

func openOn(t *testing.T, url, exporter string) *Store {
	t.Helper()
	s, err := Open(Options{InsertURL: url, Exporter: exporter, QueueDir: t.TempDir(), Policy: store.Policy{AllStatements: true},
		FlushInterval: 100 * time.Millisecond, MaxBackoff: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestConformanceSingleNode runs the contract's conformance suite against
// a real single-node VictoriaLogs.
func TestConformanceSingleNode(t *testing.T) {
	n := vltest.StartNode(t)
	storetest.Run(t, func(t *testing.T) store.Engine { return openOn(t, n.URL(), "exporter-a") }, storetest.Options{N: suiteN})
}

// TestConformanceCluster runs it against two storage nodes behind a
// front node.
func TestConformanceCluster(t *testing.T) {
	c := vltest.StartCluster(t, 2)
	storetest.Run(t, func(t *testing.T) store.Engine { return openOn(t, c.URL(), "exporter-a") }, storetest.Options{N: suiteN})
}
