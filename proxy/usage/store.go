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
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Store is the usage database. Its methods are safe for concurrent use; WAL
// lets `localrouter usage` read while the gateway writes.
type Store struct {
	db    *sql.DB
	path  string
	moved string // where a corrupt file was moved aside, "" when none was

	mu sync.Mutex // guards w: one insert at a time
	w  *writer    // nil until the first insert, and after a failed one
}

// migrations bring the schema from version i to i+1; PRAGMA user_version
// holds how many have run. Append only: a released migration never changes.
var migrations = []string{
	`CREATE TABLE requests (
		id            INTEGER PRIMARY KEY,
		time_ms       INTEGER NOT NULL, -- Unix milliseconds, when the request finished
		day           TEXT    NOT NULL, -- YYYY-MM-DD in local time, for per-day views
		door          TEXT    NOT NULL,
		path          TEXT    NOT NULL,
		client        TEXT    NOT NULL,
		session       TEXT    NOT NULL,
		side          TEXT    NOT NULL,
		provider      TEXT    NOT NULL,
		model         TEXT    NOT NULL,
		reason        TEXT    NOT NULL,
		status        INTEGER NOT NULL,
		stream        INTEGER NOT NULL,
		fallback      INTEGER NOT NULL,
		estimated     INTEGER NOT NULL,
		latency_us    INTEGER NOT NULL,
		ttfb_us       INTEGER NOT NULL,
		input_tokens  INTEGER NOT NULL,
		output_tokens INTEGER NOT NULL,
		cost_usd      REAL    NOT NULL,
		saved_usd     REAL    NOT NULL,
		error         TEXT    NOT NULL,
		remote_provider TEXT  NOT NULL,
		remote_model  TEXT    NOT NULL
	);
	CREATE INDEX requests_time ON requests (time_ms);
	CREATE INDEX requests_day ON requests (day, side);
	CREATE INDEX requests_provider ON requests (provider, id);
	CREATE INDEX requests_client ON requests (client, id);`,
	// Every index costs each insert a B-tree search; these three cost the
	// writer a third of its CPU (issue 16). The views all select a time
	// range first, and Recent's filters walk the newest rows by id.
	`DROP INDEX requests_day;
	DROP INDEX requests_provider;
	DROP INDEX requests_client;`,
}

// SchemaVersion is the schema this build writes.
var SchemaVersion = len(migrations)

// Open opens the database at path, creating it and its directory, and brings
// its schema up to date. A file that is not a database, or is corrupt, is
// moved aside (Moved says where) and a new one started, so a broken file
// never costs more than its old records.
func Open(path string) (*Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("usage: %w", err)
	}
	s, err := open(path)
	if err == nil || !isCorrupt(err) {
		return s, err
	}
	aside := path + ".corrupt-" + time.Now().Format("20060102-150405")
	if rerr := os.Rename(path, aside); rerr != nil {
		return nil, fmt.Errorf("usage: %s is corrupt (%v) and cannot be moved aside: %w", path, err, rerr)
	}
	for _, suffix := range []string{"-wal", "-shm"} {
		os.Rename(path+suffix, aside+suffix)
	}
	s, err = open(path)
	if s != nil {
		s.moved = aside
	}
	return s, err
}

func open(path string) (*Store, error) {
	// A page cache of 256 KiB a connection, not SQLite's 2 MiB: the writer
	// appends to the last pages and the views read a time range once, and
	// the default cost the gateway 5 MiB of its peak RSS (issue 16).
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=cache_size(-256)")
	if err != nil {
		return nil, fmt.Errorf("usage: open %s: %w", path, err)
	}
	s := &Store{db: db, path: path}
	if err := s.migrate(); err != nil {
		db.Close()
		return nil, fmt.Errorf("usage: %s: %w", path, err)
	}
	return s, nil
}

// OpenReadOnly opens an existing database for reading, as `localrouter
// usage` does while the gateway writes to it.
func OpenReadOnly(path string) (*Store, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("usage: %w", err)
	}
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(5000)&_pragma=query_only(1)")
	if err != nil {
		return nil, fmt.Errorf("usage: open %s: %w", path, err)
	}
	s := &Store{db: db, path: path}
	var v int
	if err := db.QueryRow("PRAGMA user_version").Scan(&v); err != nil {
		db.Close()
		return nil, fmt.Errorf("usage: %s: %w", path, err)
	}
	if v > SchemaVersion {
		db.Close()
		return nil, fmt.Errorf("usage: %s has schema version %d, newer than this build's %d", path, v, SchemaVersion)
	}
	if v < SchemaVersion {
		db.Close()
		return nil, fmt.Errorf("usage: %s has schema version %d: start the gateway once to upgrade it", path, v)
	}
	return s, nil
}

func (s *Store) migrate() error {
	var v int
	if err := s.db.QueryRow("PRAGMA user_version").Scan(&v); err != nil {
		return err
	}
	if v > len(migrations) {
		return fmt.Errorf("schema version %d is newer than this build's %d", v, len(migrations))
	}
	for ; v < len(migrations); v++ {
		tx, err := s.db.Begin()
		if err != nil {
			return err
		}
		if _, err := tx.Exec(migrations[v]); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %d: %w", v+1, err)
		}
		// PRAGMA takes no parameters; v is ours.
		if _, err := tx.Exec(fmt.Sprintf("PRAGMA user_version = %d", v+1)); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
}

func isCorrupt(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	code := se.Code() & 0xff
	return code == sqlite3.SQLITE_CORRUPT || code == sqlite3.SQLITE_NOTADB
}

// Path is the database file.
func (s *Store) Path() string { return s.path }

// Moved is where Open moved a corrupt file aside, "" when it did not.
func (s *Store) Moved() string { return s.moved }

// Close closes the database.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.w != nil {
		s.w.close()
		s.w = nil
	}
	return s.db.Close()
}

// Insert stores recs in one transaction and sets their IDs.
func (s *Store) Insert(ctx context.Context, recs []Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.w == nil {
		w, err := newWriter(ctx, s.db)
		if err != nil {
			return fmt.Errorf("usage: insert: %w", err)
		}
		s.w = w
	}
	if err := s.w.insert(ctx, recs); err != nil {
		// The next insert starts afresh, on whatever connection the pool
		// has then.
		s.w.close()
		s.w = nil
		return fmt.Errorf("usage: insert: %w", err)
	}
	return nil
}

// Prune deletes the records that finished before before, and says how many.
func (s *Store) Prune(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, "DELETE FROM requests WHERE time_ms < ?", before.UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("usage: prune: %w", err)
	}
	return res.RowsAffected()
}

const columns = `id, time_ms, door, path, client, session, side, provider, model, reason, status, stream, fallback, estimated,
	latency_us, ttfb_us, input_tokens, output_tokens, cost_usd, saved_usd, error, remote_provider, remote_model`

func scanRecord(sc interface{ Scan(...any) error }) (Record, error) {
	var r Record
	var ms, lat, ttfb int64
	err := sc.Scan(&r.ID, &ms, &r.Door, &r.Path, &r.Client, &r.Session, &r.Side, &r.Provider, &r.Model, &r.Reason,
		&r.Status, &r.Stream, &r.Fallback, &r.Estimated, &lat, &ttfb, &r.InputTokens, &r.OutputTokens, &r.CostUSD,
		&r.SavedUSD, &r.Error, &r.RemoteProvider, &r.RemoteModel)
	r.Time = time.UnixMilli(ms)
	r.Latency, r.TTFB = time.Duration(lat)*time.Microsecond, time.Duration(ttfb)*time.Microsecond
	return r, err
}

// Recent returns the records f selects, newest first.
func (s *Store) Recent(ctx context.Context, f Filter) ([]Record, error) {
	var where []string
	var args []any
	add := func(cond string, arg any) {
		where = append(where, cond)
		args = append(args, arg)
	}
	if f.Side != "" {
		add("side = ?", f.Side)
	}
	if f.Provider != "" {
		add("provider = ?", f.Provider)
	}
	if f.Client != "" {
		add("client = ?", f.Client)
	}
	if f.ErrorsOnly {
		where = append(where, "(status >= 400 OR error != '')")
	}
	if f.BeforeID > 0 {
		add("id < ?", f.BeforeID)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	q := "SELECT " + columns + " FROM requests"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY id DESC LIMIT ?"
	args = append(args, limit)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("usage: recent: %w", err)
	}
	defer rows.Close()
	var out []Record
	for rows.Next() {
		r, err := scanRecord(rows)
		if err != nil {
			return nil, fmt.Errorf("usage: recent: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// Get returns the record with id; false when there is none.
func (s *Store) Get(ctx context.Context, id int64) (Record, bool, error) {
	r, err := scanRecord(s.db.QueryRowContext(ctx, "SELECT "+columns+" FROM requests WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return Record{}, false, nil
	}
	if err != nil {
		return Record{}, false, fmt.Errorf("usage: get: %w", err)
	}
	return r, true, nil
}

// groupings are the columns Summary groups by.
var groupings = map[string]string{"day": "day", "provider": "provider", "model": "model", "client": "client", "side": "side"}

const sums = `COUNT(*), COALESCE(SUM(input_tokens),0), COALESCE(SUM(output_tokens),0),
	COALESCE(SUM(status >= 400 OR error != ''),0), COALESCE(SUM(fallback),0), COALESCE(SUM(cost_usd),0), COALESCE(SUM(saved_usd),0)`

// Summary sums the records since since, grouped by by (day, provider,
// model, client or side) and split by side, ordered by key then side.
func (s *Store) Summary(ctx context.Context, since time.Time, by string) ([]Bucket, error) {
	col, ok := groupings[by]
	if !ok {
		return nil, fmt.Errorf("usage: cannot group by %q: use day, provider, model, client or side", by)
	}
	rows, err := s.db.QueryContext(ctx, "SELECT "+col+", side, "+sums+" FROM requests WHERE time_ms >= ? GROUP BY "+col+
		", side ORDER BY "+col+", side", since.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("usage: summary: %w", err)
	}
	defer rows.Close()
	var out []Bucket
	for rows.Next() {
		var b Bucket
		if err := rows.Scan(&b.Key, &b.Side, &b.Requests, &b.InputTokens, &b.OutputTokens, &b.Errors, &b.Fallbacks,
			&b.CostUSD, &b.SavedUSD); err != nil {
			return nil, fmt.Errorf("usage: summary: %w", err)
		}
		if by == "day" {
			b.Day = b.Key
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

// Totals sums the records since since.
func (s *Store) Totals(ctx context.Context, since time.Time) (Totals, error) {
	var t Totals
	err := s.db.QueryRowContext(ctx, "SELECT "+sums+", COALESCE(SUM(side = 'local'),0) FROM requests WHERE time_ms >= ?",
		since.UnixMilli()).Scan(&t.Requests, &t.InputTokens, &t.OutputTokens, &t.Errors, &t.Fallbacks, &t.CostUSD,
		&t.SavedUSD, &t.LocalRequests)
	if err != nil {
		return Totals{}, fmt.Errorf("usage: totals: %w", err)
	}
	return t, nil
}
