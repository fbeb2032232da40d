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
	var raw [12]byte
	ms := uint64(t.UnixMilli())
	raw[0], raw[1], raw[2], raw[3], raw[4], raw[5] = byte(ms>>40), byte(ms>>32), byte(ms>>24), byte(ms>>16), byte(ms>>8), byte(ms)
	binary.BigEndian.PutUint16(raw[6:8], g.instance)
	binary.BigEndian.PutUint32(raw[8:12], g.seq.Add(1))
	var b [24]byte
	for i, v := range raw {
		b[2*i], b[2*i+1] = digits[v>>4], digits[v&15]
	}
	return string(b[:])
}
