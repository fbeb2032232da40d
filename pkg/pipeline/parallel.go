package pipeline

import (
	"slices"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/dbsec/dbsec/pkg/event"
)

// The worker model (Config.Workers > 1 with a Stage that is a Preparer).
//
// The input's goroutine (HandleLine) parses each record into the next event
// of the current batch and copies the strings the parser left in its own
// buffers (or in the input's line) into the batch's arena, so that the event
// stays valid after the next parse. A full batch, or the partial one at a
// Flush, is submitted twice: to the workers, one of which runs the stage's
// Prepare on each of its events (the statement analysis, pure), and to the
// delivery goroutine, which takes the batches in the order they were
// submitted, waits until a worker has prepared each, and delivers its events
// in order: count, id, the stage's Detect through the event's Prep (the
// detector's state), every sink. It then returns the batch to the free list.
//
// So the stateful part sees the source's events in their order, as without
// workers, while the analysis of up to Workers batches runs in parallel and
// the parsing of the next batch overlaps with both. Batches, their events,
// Preps and arenas are reused: after the warm-up nothing is allocated per
// line. At most 2×Workers+2 batches exist (of at most 64 events or about
// 256 KiB of strings each): when every one is in flight,
// HandleLine waits, so a slow sink slows the input down as before. Flush
// (the inputs call it after each burst of lines, before they record a
// checkpoint, and Idle calls it) returns when every event handed so far has
// reached the sinks.

// batchSize is the number of events in a batch; a batch whose arena holds
// batchBytes is submitted before it is full, so that long lines do not
// multiply the memory in flight, and an arena that grew beyond four times
// that for a long line is dropped once its batch is delivered.
const (
	batchSize  = 64
	batchBytes = 256 << 10
)

type slot struct {
	ev   event.Event
	prep Prep
}

type batch struct {
	slots []slot
	n     int
	// arena holds the strings of the batch's events.
	arena []byte
	// ready is signalled by the worker that prepared the batch.
	ready chan struct{}
	// ack: Flush waits for this batch to be delivered.
	ack bool
}

type parallel struct {
	s       *Source
	workers int

	// cur is the batch being filled; free holds the batches not in
	// flight. Both belong to the goroutine that calls HandleLine.
	cur     *batch
	free    chan *batch
	started bool

	work, order chan *batch
	acked       chan struct{}
	// inflight counts the submitted batches not yet delivered.
	inflight atomic.Int64
	wg       sync.WaitGroup
}

func newParallel(s *Source, pr Preparer, workers int) *parallel {
	n := 2*workers + 2
	p := &parallel{s: s, workers: workers, free: make(chan *batch, n)}
	for range n {
		b := &batch{slots: make([]slot, batchSize), ready: make(chan struct{}, 1)}
		for i := range b.slots {
			b.slots[i].prep = pr.NewPrep()
		}
		p.free <- b
	}
	return p
}

func (p *parallel) start() {
	n := cap(p.free)
	p.work = make(chan *batch, n)
	p.order = make(chan *batch, n)
	p.acked = make(chan struct{})
	for range p.workers {
		p.wg.Go(p.prepare)
	}
	p.wg.Go(p.deliver)
	p.started = true
}

// next returns the event to parse the next record into.
func (p *parallel) next() *event.Event {
	if p.cur == nil {
		p.cur = <-p.free
	}
	return &p.cur.slots[p.cur.n].ev
}

// commit adds the event of next to the batch, and submits a full batch.
func (p *parallel) commit() {
	b := p.cur
	b.own(&b.slots[b.n].ev)
	b.n++
	if b.n == len(b.slots) || len(b.arena) >= batchBytes {
		p.submit()
	}
}

func (p *parallel) submit() {
	if !p.started {
		p.start()
	}
	b := p.cur
	p.cur = nil
	p.inflight.Add(1)
	// Neither blocks: there are only cap(free) batches.
	p.order <- b
	p.work <- b
}

// flush submits the current batch and waits until every submitted batch
// is delivered.
func (p *parallel) flush() {
	if p.cur == nil || p.cur.n == 0 {
		if p.inflight.Load() == 0 {
			return
		}
		if p.cur == nil {
			p.cur = <-p.free
		}
	}
	p.cur.ack = true
	p.submit()
	<-p.acked
}

// close flushes and stops the goroutines.
func (p *parallel) close() {
	p.flush()
	if !p.started {
		return
	}
	close(p.work)
	close(p.order)
	p.wg.Wait()
	p.started = false
}

// prepare is a worker.
func (p *parallel) prepare() {
	for b := range p.work {
		for i := range b.n {
			sl := &b.slots[i]
			sl.prep.Prepare(&sl.ev)
		}
		b.ready <- struct{}{}
	}
}

// deliver is the delivery goroutine.
func (p *parallel) deliver() {
	for b := range p.order {
		<-b.ready
		for i := range b.n {
			sl := &b.slots[i]
			p.s.deliver(&sl.ev, sl.prep)
		}
		ack := b.ack
		b.n, b.ack, b.arena = 0, false, b.arena[:0]
		if cap(b.arena) > 4*batchBytes {
			b.arena = nil
		}
		p.inflight.Add(-1)
		p.free <- b
		if ack {
			p.acked <- struct{}{}
		}
	}
}

// own copies the strings of ev into the batch's arena: a parser's strings
// alias the line or the parser's scratch buffers (event.Event's ownership
// rule), which the next line reuses, while ev waits in the batch. The
// arena is reused when the batch is: the sinks clone what they keep.
func (b *batch) own(ev *event.Event) {
	need := len(ev.ID) + len(ev.Format) + len(ev.User) + len(ev.ClientIP) + len(ev.Server) + len(ev.Database) +
		len(ev.Digest) + len(ev.StatusCode) + len(ev.Reason) + len(ev.ConnectionID) + len(ev.Raw) + len(ev.Statement)
	for _, o := range ev.Objects {
		need += len(o)
	}
	// Growing moves the arena; the strings of the batch's earlier events
	// keep the old one alive.
	b.arena = slices.Grow(b.arena, need)
	for _, f := range [...]*string{&ev.ID, &ev.Format, &ev.User, &ev.ClientIP, &ev.Server, &ev.Database,
		&ev.Digest, &ev.StatusCode, &ev.Reason, &ev.ConnectionID, &ev.Raw} {
		*f = b.str(*f)
	}
	ev.Statement = b.str(ev.Statement)
	for i, o := range ev.Objects {
		ev.Objects[i] = b.str(o)
	}
}

func (b *batch) str(s string) string {
	if s == "" {
		return ""
	}
	n := len(b.arena)
	b.arena = append(b.arena, s...)
	return unsafe.String(&b.arena[n], len(s))
}
