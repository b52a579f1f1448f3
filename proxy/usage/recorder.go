package usage

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Recorder stores records off the request path: Record puts one on a
// bounded queue and returns; one writer drains the queue in batches, one
// transaction each. A full queue drops the record and counts it, so a slow
// disk never slows a request.
type Recorder struct {
	store     *Store
	prices    *Prices
	log       *slog.Logger
	now       func() time.Time
	retention time.Duration

	queue   chan Record
	quit    chan struct{}
	done    chan struct{}
	closing sync.Once
	closed  atomic.Bool
	dropped atomic.Int64
	failed  atomic.Int64 // records lost to failed writes
	stored  atomic.Int64
	lastErr atomic.Pointer[string]

	subMu sync.Mutex // guards subs
	subs  map[chan Record]struct{}

	lastPrune time.Time // the writer's own
}

// An Option configures a Recorder.
type Option func(*Recorder)

// WithRetention keeps records for d (default 90 days; 0 or less keeps them
// forever).
func WithRetention(d time.Duration) Option { return func(r *Recorder) { r.retention = d } }

// WithQueue sets how many records may wait for the writer (default 4096).
func WithQueue(n int) Option { return func(r *Recorder) { r.queue = make(chan Record, n) } }

// WithLogger logs write failures to l (default slog.Default()).
func WithLogger(l *slog.Logger) Option { return func(r *Recorder) { r.log = l } }

// WithClock replaces time.Now for pruning, so tests can move time on.
func WithClock(now func() time.Time) Option { return func(r *Recorder) { r.now = now } }

// DefaultRetention is how long records are kept unless usage.retention says.
const DefaultRetention = 90 * 24 * time.Hour

// maxBatch bounds one transaction, so a burst still reaches subscribers
// promptly; gatherFor is how long the writer waits for more records after
// the first of a while. A transaction per record cost 44 µs of CPU per
// request at 4,300 requests/s (a fifth of the gateway's CPU, issue 16);
// one per tenth of a second costs a few, and the live feed lags by at most
// that tenth. The queue holds 0.1 s of 40,000 requests a second.
const (
	maxBatch  = 512
	gatherFor = 100 * time.Millisecond
)

// wait lets records gather for gatherFor, or until the recorder closes.
func (r *Recorder) wait() {
	t := time.NewTimer(gatherFor)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.quit:
	}
}

// NewRecorder starts the writer for s; prices, when not nil, fills each
// record's cost and savings. Close stops it.
func NewRecorder(s *Store, prices *Prices, opts ...Option) *Recorder {
	r := &Recorder{store: s, prices: prices, log: slog.Default(), now: time.Now, retention: DefaultRetention,
		queue: make(chan Record, 4096), quit: make(chan struct{}), done: make(chan struct{}), subs: map[chan Record]struct{}{}}
	for _, o := range opts {
		o(r)
	}
	go r.run()
	return r
}

// Record queues rec to be stored. It never blocks: when the queue is full
// the record is dropped and counted (Dropped).
func (r *Recorder) Record(rec Record) {
	if r.closed.Load() {
		r.dropped.Add(1) // nobody would store it
		return
	}
	if r.prices != nil {
		r.prices.Fill(&rec)
	}
	select {
	case r.queue <- rec:
	default:
		r.dropped.Add(1)
	}
}

// Dropped is how many records were lost: to a full queue, or to a write
// that failed.
func (r *Recorder) Dropped() int64 { return r.dropped.Load() + r.failed.Load() }

// Stored is how many records this Recorder has written, so a reader can
// tell that nothing changed without asking the database.
func (r *Recorder) Stored() int64 { return r.stored.Load() }

// Err is the last write error, "" when the last write succeeded.
func (r *Recorder) Err() string {
	if p := r.lastErr.Load(); p != nil {
		return *p
	}
	return ""
}

// Subscribe returns a channel that gets each record once it is stored (with
// its ID), and a function that ends the subscription. A subscriber that
// falls behind misses records; it never holds the writer up.
func (r *Recorder) Subscribe() (<-chan Record, func()) {
	ch := make(chan Record, 256)
	r.subMu.Lock()
	r.subs[ch] = struct{}{}
	r.subMu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			r.subMu.Lock()
			delete(r.subs, ch)
			r.subMu.Unlock()
		})
	}
}

// Close stores what is queued, stops the writer and closes the store.
// Records sent after Close are dropped and counted.
func (r *Recorder) Close() error {
	r.closing.Do(func() {
		r.closed.Store(true)
		close(r.quit)
	})
	<-r.done
	return r.store.Close()
}

func (r *Recorder) run() {
	defer close(r.done)
	r.prune()
	batch := make([]Record, 0, maxBatch)
	for {
		select {
		case rec := <-r.queue:
			// The first record of a while wakes the writer; the next ones
			// queue up while it waits, so a request does not wake it each.
			r.wait()
			batch = r.fill(append(batch[:0], rec))
			for len(batch) > 0 {
				r.write(batch)
				batch = r.fill(batch[:0])
			}
		case <-r.quit:
			// Whatever was queued before Close still goes in.
			for len(r.queue) > 0 {
				batch = r.fill(batch[:0])
				r.write(batch)
			}
			return
		}
	}
}

// fill adds what else is already queued to batch, up to maxBatch.
func (r *Recorder) fill(batch []Record) []Record {
	for len(batch) < maxBatch {
		select {
		case rec := <-r.queue:
			batch = append(batch, rec)
		default:
			return batch
		}
	}
	return batch
}

func (r *Recorder) write(batch []Record) {
	if len(batch) == 0 {
		return
	}
	if r.now().Sub(r.lastPrune) >= 24*time.Hour {
		r.prune()
	}
	if err := r.store.Insert(context.Background(), batch); err != nil {
		r.failed.Add(int64(len(batch)))
		msg := err.Error()
		if prev := r.lastErr.Swap(&msg); prev == nil || *prev != msg {
			r.log.Warn("usage records lost: cannot write the usage database", "path", r.store.Path(), "records", len(batch), "err", err)
		}
		return
	}
	r.lastErr.Store(nil)
	r.stored.Add(int64(len(batch)))
	r.publish(batch)
}

func (r *Recorder) publish(batch []Record) {
	r.subMu.Lock()
	defer r.subMu.Unlock()
	for ch := range r.subs {
		for _, rec := range batch {
			select {
			case ch <- rec:
			default:
			}
		}
	}
}

// prune deletes what is older than the retention; it runs at start and then
// at most daily, before a write.
func (r *Recorder) prune() {
	now := r.now()
	r.lastPrune = now
	if r.retention <= 0 {
		return
	}
	if n, err := r.store.Prune(context.Background(), now.Add(-r.retention)); err != nil {
		r.log.Warn("usage: cannot prune old records", "err", err)
	} else if n > 0 {
		r.log.Info("usage: pruned old records", "records", n, "retention", r.retention)
	}
}
