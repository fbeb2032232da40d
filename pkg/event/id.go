package event

import (
	"crypto/rand"
	"encoding/binary"
	"sync/atomic"
	"time"
)

// IDGen makes event ids: 24 hex digits, 12 for the event time in Unix
// milliseconds, 4 for a random generator instance (so that two exporter runs
// do not collide) and 8 for a sequence number. Ids sort by event time. An
// IDGen is safe for concurrent use.
type IDGen struct {
	instance uint16
	seq      atomic.Uint32
}

// NewIDGen returns a generator with a random instance number.
func NewIDGen() *IDGen {
	var b [2]byte
	_, _ = rand.Read(b[:])
	return &IDGen{instance: binary.BigEndian.Uint16(b[:])}
}

// Next returns a new id for an event at time t.
func (g *IDGen) Next(t time.Time) string {
	const digits = "0123456789abcdef"
	var b [24]byte
	ms := uint64(t.UnixMilli())
	for i := 11; i >= 0; i-- {
		b[i] = digits[ms&15]
		ms >>= 4
	}
	v := uint64(g.instance)<<32 | uint64(g.seq.Add(1))
	for i := 23; i >= 12; i-- {
		b[i] = digits[v&15]
		v >>= 4
	}
	return string(b[:])
}
