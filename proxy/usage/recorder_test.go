package usage

import (
	"context"
	"database/sql"
	"sync"
	"testing"
	"time"
)

// hangGuard bounds every wait in these tests; none of them times anything.
const hangGuard = 10 * time.Second

func count(t *testing.T, s *Store) int64 {
	t.Helper()
	tot, err := s.Totals(context.Background(), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	return tot.Requests
}

func TestRecorderStoresAndPublishes(t *testing.T) {
	s, path := openTemp(t)
	prices, err := LoadPrices(nil)
	if err != nil {
		t.Fatal(err)
	}
	r := NewRecorder(s, prices)
	feed, unsubscribe := r.Subscribe()
	defer unsubscribe()
	r.Record(sample(time.Now(), "remote", "openai", "gpt-4o", 1_000_000, 1_000_000))
	select {
	case rec := <-feed:
		if rec.ID == 0 {
			t.Error("published record has no ID")
		}
		if rec.CostUSD != 12.5 { // gpt-4o: $2.50 in, $10 out per million
			t.Errorf("CostUSD = %v, want 12.5", rec.CostUSD)
		}
	case <-time.After(hangGuard):
		t.Fatal("no record published")
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if n := count(t, s2); n != 1 {
		t.Errorf("%d records stored, want 1", n)
	}
}

// TestRecorderFullQueueDrops holds the database's write lock from another
// connection, so the writer blocks on its first batch: Record must go on
// returning, and count what it could not queue.
func TestRecorderFullQueueDrops(t *testing.T) {
	s, path := openTemp(t)
	lock, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	conn, err := lock.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(context.Background(), "BEGIN EXCLUSIVE"); err != nil {
		t.Fatal(err)
	}
	const queue, sent = 8, 200
	r := NewRecorder(s, nil, WithQueue(queue))
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range sent {
			r.Record(sample(time.Now(), "local", "ollama", "qwen3", 1, 1))
		}
	}()
	select {
	case <-done:
	case <-time.After(hangGuard):
		t.Fatal("Record blocked on a full queue")
	}
	// At most the batch the writer holds (a queue's worth and the record
	// that woke it) and a full queue behind it got through.
	if d := r.Dropped(); d < sent-2*queue-1 {
		t.Errorf("Dropped = %d, want at least %d", d, sent-2*queue-1)
	}
	conn.ExecContext(context.Background(), "ROLLBACK")
	conn.Close()
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if stored, dropped := count(t, s2), r.Dropped(); stored+dropped != sent {
		t.Errorf("%d stored + %d dropped = %d, want every one of %d accounted for", stored, dropped, stored+dropped, sent)
	}
}

// TestRecorderLosesNothing sends 10,000 records from many goroutines at
// full speed; every one is stored or counted as dropped, and Close stores
// all that was queued.
func TestRecorderLosesNothing(t *testing.T) {
	s, path := openTemp(t)
	r := NewRecorder(s, nil)
	const workers, each = 20, 500
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				r.Record(sample(time.Now(), "remote", "deepseek", "deepseek-chat", 3, 4))
			}
		})
	}
	wg.Wait()
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	stored, dropped := count(t, s2), r.Dropped()
	if stored+dropped != workers*each {
		t.Errorf("%d stored + %d dropped, want %d in all", stored, dropped, workers*each)
	}
	if r.Stored() != int64(stored) {
		t.Errorf("Stored says %d, the database holds %d", r.Stored(), stored)
	}
	t.Logf("%d stored, %d dropped", stored, dropped)
	r.Record(sample(time.Now(), "remote", "deepseek", "deepseek-chat", 3, 4))
	if r.Dropped() != dropped+1 {
		t.Errorf("a record after Close: Dropped %d, want %d", r.Dropped(), dropped+1)
	}
}

func TestRecorderPrunes(t *testing.T) {
	s, _ := openTemp(t)
	var mu sync.Mutex
	now := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return now
	}
	old := sample(now.Add(-40*24*time.Hour), "local", "ollama", "qwen3", 1, 1)
	recent := sample(now.Add(-time.Hour), "local", "ollama", "qwen3", 1, 1)
	if err := s.Insert(context.Background(), []Record{old, recent}); err != nil {
		t.Fatal(err)
	}
	r := NewRecorder(s, nil, WithRetention(30*24*time.Hour), WithClock(clock))
	feed, unsubscribe := r.Subscribe()
	defer unsubscribe()
	await := func() {
		t.Helper()
		select {
		case <-feed:
		case <-time.After(hangGuard):
			t.Fatal("record not stored")
		}
	}
	r.Record(sample(now, "local", "ollama", "qwen3", 1, 1))
	await()
	if n := count(t, s); n != 2 {
		t.Fatalf("after the start's prune: %d records, want 2 (the 40-day-old one gone)", n)
	}
	// 30 days on, the next write prunes again: the record from an hour
	// before the start goes, the start's own is just 30 days old and stays.
	mu.Lock()
	now = now.Add(30 * 24 * time.Hour)
	mu.Unlock()
	r.Record(sample(now, "local", "ollama", "qwen3", 1, 1))
	await()
	if n := count(t, s); n != 2 {
		t.Errorf("30 days on: %d records, want 2 (the start's and the new one)", n)
	}
	r.Close()
}
