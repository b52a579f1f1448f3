package usage

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Recorder stores records off the request path: Record appends one to a
// bounded queue and returns; one writer takes the whole queue at a time
// and stores it in batches, one transaction each. A full queue drops the
// record and counts it, so a slow disk never slows a request.
type Recorder struct {
	store     *Store
	prices    *Prices
	log       *slog.Logger
	now       func() time.Time
	retention time.Duration

	// The queue is a slice the writer swaps for an empty one rather than a
	// channel: a channel's buffer is allocated whole (4096 records, 1.1
	// MB) and the garbage collector scans all of it in every cycle, while
	// a slice holds what is waiting, a few hundred records under load.
	mu       sync.Mutex // guards pending and closed
	pending  []Record
	closed   bool
	maxQueue int
	wake     chan struct{} // 1-buffered: records are pending

	quit    chan struct{}
	done    chan struct{}
	closing sync.Once
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
func WithQueue(n int) Option { return func(r *Recorder) { r.maxQueue = n } }

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
	maxBatch     = 512
	gatherFor    = 100 * time.Millisecond
	defaultQueue = 4096
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
		maxQueue: defaultQueue, wake: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{}),
		subs: map[chan Record]struct{}{}}
	for _, o := range opts {
		o(r)
	}
	go r.run()
	return r
}

// Record queues rec to be stored. It never blocks: when the queue is full
// the record is dropped and counted (Dropped).
func (r *Recorder) Record(rec Record) {
	if r.prices != nil {
		r.prices.Fill(&rec)
	}
	r.mu.Lock()
	if r.closed || len(r.pending) >= r.maxQueue {
		// Closed: nobody would store it.
		r.mu.Unlock()
		r.dropped.Add(1)
		return
	}
	r.pending = append(r.pending, rec)
	first := len(r.pending) == 1
	r.mu.Unlock()
	if first {
		// The first record of a while wakes the writer; the next ones
		// queue up while it waits, so a request does not wake it each.
		select {
		case r.wake <- struct{}{}:
		default:
		}
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
		r.mu.Lock()
		r.closed = true
		r.mu.Unlock()
		close(r.quit)
	})
	<-r.done
	return r.store.Close()
}

func (r *Recorder) run() {
	defer close(r.done)
	r.prune()
	var spare []Record
	for {
		select {
		case <-r.wake:
			r.wait()
		case <-r.quit:
		}
		r.mu.Lock()
		queued, closed := r.pending, r.closed
		r.pending = spare[:0]
		r.mu.Unlock()
		for b := queued; len(b) > 0; {
			n := min(len(b), maxBatch)
			r.write(b[:n])
			b = b[n:]
		}
		if closed {
			// Whatever was queued before Close went in above.
			return
		}
		clear(queued) // let the records' strings go
		if spare = queued[:0]; cap(spare) > maxBatch {
			spare = nil // let a burst's queue go
		}
	}
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
