package detect

import (
	"bufio"
	"encoding/gob"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"
)

// TestBloomPositions checks that positions visits the bits probe visits
// (the persisted filters depend on them), and hasAt answers as has.
func TestBloomPositions(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, words := range []int{1, 3, 7, 1000, 15625, 1 << 20, 123457} {
		b := &bloom{Bits: make([]uint64, words), K: 7}
		for range 2000 {
			h := r.Uint64()
			var want []uint64
			b.probe(h, func(i uint64) bool { want = append(want, i); return true })
			var pos [maxProbes]uint64
			b.positions(h, &pos)
			for i, w := range want {
				if pos[i] != w {
					t.Fatalf("words %d h %#x probe %d: %d, want %d", words, h, i, pos[i], w)
				}
			}
		}
	}
	b := newBloom(1000, 0.01)
	for h := range uint64(500) {
		b.add(h * 0x9e3779b97f4a7c15)
	}
	for h := range uint64(2000) {
		var pos [maxProbes]uint64
		b.positions(h*0x9e3779b97f4a7c15, &pos)
		if b.hasAt(&pos) != b.has(h*0x9e3779b97f4a7c15) {
			t.Fatalf("hasAt differs from has at %d", h)
		}
	}
}

// TestNoveltyHashMigration: a generation restored from a version 1 state
// (fnv64 keys) answers with fnv64 until it rotates out, while the new
// generations use hashWords.
func TestNoveltyHashMigration(t *testing.T) {
	n := newNovelty("x", 1000, 2*time.Hour, 0)
	n.curHash, n.prevHash = hashFNV, hashFNV
	now := t0.UnixNano()
	if !n.observe(now, "alice", "\x1f", "d1") {
		t.Fatal("first sighting not new")
	}
	if n.observe(now+1, "alice", "\x1f", "d1") {
		t.Fatal("second sighting new")
	}
	now += int64(time.Hour) // rotation: prev is the fnv64 generation
	if n.observe(now, "alice", "\x1f", "d1") {
		t.Fatal("sighting of the fnv64 generation new after the rotation")
	}
	if n.curHash != hashWordsV || n.prevHash != hashFNV {
		t.Fatalf("hashes %d/%d after one rotation", n.curHash, n.prevHash)
	}
	now += int64(time.Hour)
	if n.observe(now, "alice", "\x1f", "d1") {
		t.Fatal("sighting new after the second rotation")
	}
	if n.curHash != hashWordsV || n.prevHash != hashWordsV {
		t.Fatalf("hashes %d/%d after two rotations", n.curHash, n.prevHash)
	}
	if !n.observe(now, "alice", "\x1f", "d2") {
		t.Fatal("new key not new")
	}
}

// TestStateVersion1 loads a state file of version 1 (fnv64 keys, no hash
// fields): what it learned stays learned.
func TestStateVersion1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "detect.state")
	r := DefaultRules()
	r.Rule("D07").Learning = Duration(time.Hour)
	d, err := New(r, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range d.novelties {
		n.curHash, n.prevHash = hashFNV, hashFNV
	}
	d.Consume(login("root", true, ip("10.1.1.1")))
	d.Consume(login("root", true, ip("10.3.3.3"), at(time.Minute)))
	st := stateFile{Version: 1, Now: d.now, Novelty: map[string]noveltyState{}}
	for _, n := range d.novelties {
		st.Novelty[n.name] = noveltyState{Cur: n.cur.Bits, Prev: n.prev.Bits, K: n.cur.K, Half: n.half, RotatedAt: n.rotatedAt, Started: n.started}
	}
	if err := writeAtomic(path, func(w *bufio.Writer) error { return gob.NewEncoder(w).Encode(&st) }); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	d2, err := New(r, Options{OnFinding: rec.add, StatePath: path})
	if err != nil {
		t.Fatal(err)
	}
	if d2.nNet.curHash != hashFNV {
		t.Fatal("version 1 state not restored")
	}
	d2.Consume(login("root", true, ip("10.3.3.7"), at(2*time.Hour)))
	for _, f := range rec.fs {
		if f.Rule == "new_network_login" {
			t.Fatalf("version 1 state lost: %s", f.Message)
		}
	}
	d2.Consume(login("root", true, ip("10.4.4.4"), at(3*time.Hour)))
	if len(rec.fs) == 0 {
		t.Error("no finding for a really new network after loading version 1")
	}
}
