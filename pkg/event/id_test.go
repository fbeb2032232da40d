package event

import (
	"encoding/binary"
	"encoding/hex"
	"testing"
	"time"
)

// TestIDGenFormat checks Next against the layout: 12 hex digits of Unix
// milliseconds, 4 of the instance, 8 of the sequence number.
func TestIDGenFormat(t *testing.T) {
	g := &IDGen{instance: 0xbeef}
	g.seq.Store(0xfffffffe)
	for _, tm := range []time.Time{time.Unix(0, 0), time.Unix(1764460800, 123e6), time.UnixMilli(1<<48 - 1)} {
		var raw [12]byte
		ms := uint64(tm.UnixMilli())
		raw[0], raw[1], raw[2], raw[3], raw[4], raw[5] = byte(ms>>40), byte(ms>>32), byte(ms>>24), byte(ms>>16), byte(ms>>8), byte(ms)
		binary.BigEndian.PutUint16(raw[6:8], g.instance)
		binary.BigEndian.PutUint32(raw[8:12], g.seq.Load()+1)
		want := hex.EncodeToString(raw[:])
		if got := g.Next(tm); got != want {
			t.Errorf("Next(%v) = %s, want %s", tm, got, want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _ = g.Next(time.Unix(1, 0)) }); n != 1 {
		t.Errorf("Next: %v allocations, want 1", n)
	}
}

func BenchmarkIDGenNext(b *testing.B) {
	g := NewIDGen()
	tm := time.Unix(1764460800, 0)
	b.ReportAllocs()
	for b.Loop() {
		_ = g.Next(tm)
	}
}
