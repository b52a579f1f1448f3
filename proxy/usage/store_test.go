package usage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func openTemp(t testing.TB) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "usage.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func sample(at time.Time, side, provider, model string, in, out int) Record {
	return Record{Time: at, Door: "chat", Path: "/v1/chat/completions", Client: "codex", Side: side, Provider: provider,
		Model: model, Reason: "default", Status: 200, InputTokens: in, OutputTokens: out, Latency: 1500 * time.Microsecond,
		TTFB: 300 * time.Microsecond}
}

func TestStoreRoundTrip(t *testing.T) {
	s, path := openTemp(t)
	ctx := context.Background()
	now := time.Now().Truncate(time.Millisecond)
	recs := []Record{
		sample(now, "local", "ollama", "qwen3", 10, 20),
		sample(now, "remote", "deepseek", "deepseek-chat", 100, 200),
	}
	recs[1].Stream, recs[1].Fallback, recs[1].Estimated, recs[1].CostUSD = true, true, true, 0.5
	recs[1].Status, recs[1].Error, recs[1].Session = 502, "upstream failed", "s1"
	if err := s.Insert(ctx, recs); err != nil {
		t.Fatal(err)
	}
	if recs[0].ID == 0 || recs[1].ID <= recs[0].ID {
		t.Fatalf("IDs %d, %d: want increasing, non-zero", recs[0].ID, recs[1].ID)
	}
	got, ok, err := s.Get(ctx, recs[1].ID)
	if err != nil || !ok {
		t.Fatalf("Get: %v, %v", ok, err)
	}
	if diff := cmp.Diff(recs[1], got, cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); diff != "" {
		t.Errorf("Get (-want +got):\n%s", diff)
	}
	if _, ok, err := s.Get(ctx, 999); ok || err != nil {
		t.Errorf("Get(999) = %v, %v; want not found", ok, err)
	}

	for name, c := range map[string]struct {
		f    Filter
		want []int64
	}{
		"all, newest first": {Filter{}, []int64{recs[1].ID, recs[0].ID}},
		"side":              {Filter{Side: "local"}, []int64{recs[0].ID}},
		"provider":          {Filter{Provider: "deepseek"}, []int64{recs[1].ID}},
		"client":            {Filter{Client: "nobody"}, nil},
		"errors":            {Filter{ErrorsOnly: true}, []int64{recs[1].ID}},
		"page":              {Filter{BeforeID: recs[1].ID}, []int64{recs[0].ID}},
		"limit":             {Filter{Limit: 1}, []int64{recs[1].ID}},
	} {
		t.Run(name, func(t *testing.T) {
			rs, err := s.Recent(ctx, c.f)
			if err != nil {
				t.Fatal(err)
			}
			var ids []int64
			for _, r := range rs {
				ids = append(ids, r.ID)
			}
			if diff := cmp.Diff(c.want, ids); diff != "" {
				t.Errorf("IDs (-want +got):\n%s", diff)
			}
		})
	}

	tot, err := s.Totals(ctx, now.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	want := Totals{Requests: 2, LocalRequests: 1, InputTokens: 110, OutputTokens: 220, Errors: 1, Fallbacks: 1, CostUSD: 0.5}
	if tot != want {
		t.Errorf("Totals = %+v, want %+v", tot, want)
	}
	if tot, _ := s.Totals(ctx, now.Add(time.Second)); tot.Requests != 0 {
		t.Errorf("Totals after the records = %+v, want none", tot)
	}

	day := now.Local().Format(time.DateOnly)
	b, err := s.Summary(ctx, now.Add(-time.Hour), "day")
	if err != nil {
		t.Fatal(err)
	}
	wantB := []Bucket{
		{Day: day, Key: day, Side: "local", Requests: 1, InputTokens: 10, OutputTokens: 20},
		{Day: day, Key: day, Side: "remote", Requests: 1, InputTokens: 100, OutputTokens: 200, Errors: 1, Fallbacks: 1, CostUSD: 0.5},
	}
	if diff := cmp.Diff(wantB, b); diff != "" {
		t.Errorf("Summary by day (-want +got):\n%s", diff)
	}
	b, err = s.Summary(ctx, now.Add(-time.Hour), "provider")
	if err != nil || len(b) != 2 || b[0].Key != "deepseek" || b[1].Key != "ollama" {
		t.Errorf("Summary by provider = %+v, %v", b, err)
	}
	if _, err := s.Summary(ctx, now, "color"); err == nil {
		t.Error("Summary by an unknown key: no error")
	}

	// Records survive a restart.
	s.Close()
	s2, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if rs, err := s2.Recent(ctx, Filter{}); err != nil || len(rs) != 2 {
		t.Errorf("after reopening: %d records, %v; want 2", len(rs), err)
	}
	ro, err := OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if tot, err := ro.Totals(ctx, time.Time{}); err != nil || tot.Requests != 2 {
		t.Errorf("read-only Totals = %+v, %v", tot, err)
	}
	if err := ro.Insert(ctx, []Record{sample(now, "local", "x", "y", 1, 1)}); err == nil {
		t.Error("a read-only store took an insert")
	}
}

func TestOpenCorruptMovesAside(t *testing.T) {
	path := filepath.Join(t.TempDir(), "usage.db")
	junk := []byte(strings.Repeat("this is not a database\n", 400))
	if err := os.WriteFile(path, junk, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Moved() == "" {
		t.Fatal("Moved is empty: the corrupt file was not moved aside")
	}
	if b, err := os.ReadFile(s.Moved()); err != nil || string(b) != string(junk) {
		t.Errorf("the moved-aside file does not hold the old bytes: %v", err)
	}
	if err := s.Insert(context.Background(), []Record{sample(time.Now(), "local", "a", "b", 1, 2)}); err != nil {
		t.Errorf("the new database takes no insert: %v", err)
	}
}

// TestOpenUnwritable stands for a read-only cache dir the way root (who
// writes anywhere, and runs CI) can see one too: a file where the
// directory should be.
func TestOpenUnwritable(t *testing.T) {
	blocker := filepath.Join(t.TempDir(), "localrouter")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(filepath.Join(blocker, "usage.db")); err == nil {
		t.Error("Open under a file: no error")
	}
}

func TestOpenNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "usage.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("PRAGMA user_version = 99"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := Open(path); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Errorf("Open of a newer schema: %v, want an error saying so", err)
	}
}

// TestInsertBatchIDs inserts batches that fill several statements and a
// part of one: every record gets the ID of its own row.
func TestInsertBatchIDs(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()
	now := time.Now()
	for _, n := range []int{1, rowsPer, 2*rowsPer + 6, 5} {
		recs := make([]Record, n)
		for i := range recs {
			recs[i] = sample(now, "local", "ollama", "qwen3", i, n)
			recs[i].Session = fmt.Sprintf("s%d-%d", n, i)
		}
		if err := s.Insert(ctx, recs); err != nil {
			t.Fatal(err)
		}
		for i, r := range recs {
			got, ok, err := s.Get(ctx, r.ID)
			if err != nil || !ok || got.Session != r.Session || got.InputTokens != i {
				t.Fatalf("batch of %d, record %d: ID %d holds %+v (%v, %v)", n, i, r.ID, got, ok, err)
			}
		}
	}
}

// TestMigrateDropsIndexes opens a database written by the first schema:
// its rows stay and only the time index is left.
func TestMigrateDropsIndexes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "usage.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(migrations[0] + "; PRAGMA user_version = 1"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO requests VALUES (7, 1, '2026-12-03', 'chat', '/v1/chat/completions', 'codex', '',
		'local', 'ollama', 'qwen3', 'default', 200, 0, 0, 0, 10, 5, 3, 4, 0, 0.5, '', 'openai', 'gpt-5')`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if r, ok, err := s.Get(context.Background(), 7); err != nil || !ok || r.Model != "qwen3" || r.SavedUSD != 0.5 {
		t.Errorf("the old row after migrating: %+v, %v, %v", r, ok, err)
	}
	var names []string
	rows, err := s.db.Query("SELECT name FROM sqlite_master WHERE type = 'index' ORDER BY name")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n string
		rows.Scan(&n)
		names = append(names, n)
	}
	if diff := cmp.Diff([]string{"requests_time"}, names); diff != "" {
		t.Errorf("indexes after migrating (-want +got):\n%s", diff)
	}
}

// BenchmarkInsert is the writer's cost per record in batches the size of a
// tenth of a second at 2,000 requests/s.
func BenchmarkInsert(b *testing.B) {
	s, _ := openTemp(b)
	defer s.Close()
	batch := make([]Record, 200)
	now := time.Now()
	for i := range batch {
		r := sample(now, "remote", "openai", "gpt-4o-mini", 212, 77)
		r.Door, r.Path, r.Client, r.Reason = "chat", "/v1/chat/completions", "openai-go", "model listed by openai"
		batch[i] = r
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += len(batch) {
		if err := s.Insert(context.Background(), batch); err != nil {
			b.Fatal(err)
		}
	}
}

// TestInsertAcrossCalls inserts batches that take each statement the
// writer keeps, more than once: every column of every record round-trips
// and the IDs keep counting up across calls.
func TestInsertAcrossCalls(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()
	base := time.Now().Truncate(time.Millisecond)
	var last int64
	for call, n := range []int{3, rowsPer, 2*rowsPer + 5, 1, rowsPer - 1, 0, rowsPer + 1} {
		recs := make([]Record, n)
		for i := range recs {
			// Pairs of records share their strings, and the times step
			// back across local days.
			k := (call*1000 + i) / 2
			recs[i] = Record{
				Time: base.Add(-time.Duration(call*1000+i) * 5 * time.Hour), Door: fmt.Sprint("door", k),
				Path: fmt.Sprint("/p", k), Client: fmt.Sprint("c", k%3), Session: fmt.Sprint("s", i), Side: "remote",
				Provider: fmt.Sprint("prov", k), Model: fmt.Sprint("m", k), Reason: fmt.Sprint("r", k),
				Status: 200 + 100*(i%4), Stream: i%2 == 0, Fallback: i%3 == 0, Estimated: i%5 == 0,
				Latency: time.Duration(i+1) * time.Millisecond, TTFB: time.Duration(i) * 700 * time.Microsecond,
				InputTokens: 1000 * i, OutputTokens: i % 2, CostUSD: float64(i) / 3, SavedUSD: float64(call) / 7,
				Error: map[bool]string{true: "upstream failed"}[i%4 == 3], RemoteModel: fmt.Sprint("rm", i%2),
			}
		}
		if err := s.Insert(ctx, recs); err != nil {
			t.Fatalf("call %d: %v", call, err)
		}
		for i, want := range recs {
			if want.ID <= last {
				t.Fatalf("call %d, record %d: ID %d after %d", call, i, want.ID, last)
			}
			last = want.ID
			got, ok, err := s.Get(ctx, want.ID)
			if err != nil || !ok {
				t.Fatalf("call %d, record %d: Get(%d) = %v, %v", call, i, want.ID, ok, err)
			}
			if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); diff != "" {
				t.Errorf("call %d, record %d (-want +got):\n%s", call, i, diff)
			}
			var day string
			if err := s.db.QueryRow("SELECT day FROM requests WHERE id = ?", want.ID).Scan(&day); err != nil {
				t.Fatal(err)
			}
			if wantDay := want.Time.Local().Format(time.DateOnly); day != wantDay {
				t.Errorf("call %d, record %d: day %s, want %s", call, i, day, wantDay)
			}
		}
	}
}

// TestInsertAfterFailure: a failed insert stores nothing, and the next one
// starts afresh.
func TestInsertAfterFailure(t *testing.T) {
	s, _ := openTemp(t)
	now := time.Now()
	recs := []Record{sample(now, "local", "ollama", "qwen3", 1, 2), sample(now, "local", "ollama", "qwen3", 3, 4)}
	if err := s.Insert(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Insert(ctx, []Record{sample(now, "remote", "x", "y", 5, 6)}); !errors.Is(err, context.Canceled) {
		t.Errorf("Insert with a canceled context: %v, want context.Canceled", err)
	}
	more := []Record{sample(now, "remote", "openai", "gpt", 7, 8)}
	if err := s.Insert(context.Background(), more); err != nil {
		t.Fatal(err)
	}
	if more[0].ID != recs[1].ID+1 {
		t.Errorf("ID after a failed insert = %d, want %d", more[0].ID, recs[1].ID+1)
	}
	if tot, err := s.Totals(context.Background(), time.Time{}); err != nil || tot.Requests != 3 {
		t.Errorf("Totals = %+v, %v; want 3 requests", tot, err)
	}
	s.Close()
	if err := s.Insert(context.Background(), more); err == nil {
		t.Error("Insert after Close: no error")
	}
}

// TestInsertConcurrent: inserts from several goroutines each get their
// own rows.
func TestInsertConcurrent(t *testing.T) {
	s, _ := openTemp(t)
	var wg sync.WaitGroup
	batches := make([][]Record, 4)
	for g := range batches {
		batches[g] = make([]Record, rowsPer+3)
		for i := range batches[g] {
			batches[g][i] = sample(time.Now(), "local", fmt.Sprint("p", g), "m", i, g)
		}
		wg.Go(func() {
			if err := s.Insert(context.Background(), batches[g]); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for g, b := range batches {
		for i, r := range b {
			got, ok, err := s.Get(context.Background(), r.ID)
			if err != nil || !ok || got.Provider != r.Provider || got.InputTokens != i {
				t.Errorf("goroutine %d, record %d: ID %d holds %+v (%v, %v)", g, i, r.ID, got, ok, err)
			}
		}
	}
}
