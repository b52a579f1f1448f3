package config

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// quietPeriod is how long the directory must be still before a change is
// loaded. One save is several events (truncate and write, or create, write
// and rename of a temporary file), and loading after the first of them
// would read a half-written file.
const quietPeriod = 150 * time.Millisecond

// Watch watches the config file at path and calls apply after each change
// with the newly loaded config, or with the load error (the caller keeps its
// old config then). It returns when ctx ends.
//
// apply runs on Watch's goroutine, one call at a time, and Watch notices ctx
// only between calls, so apply should not block for long. A file whose
// content is byte for byte the one Watch last saw does not call apply: a
// touch, or the gateway saving what it already runs, changes nothing. The
// first content Watch sees is the file as it is when Watch starts, so a
// change made between the caller's Load and the call to Watch is missed.
// The same error is reported once, not again for each save that keeps it.
// When the file goes missing, or has no settings (see Parse), apply gets
// an error only if that lasts beyond a second quiet period, because editors
// and atomic saves remove a file for a moment and saves in place truncate
// it before they write. A file with no settings is never applied. Reads are
// bounded as Load's are: a FIFO, a device or a directory at path is an
// error, not a hang.
//
// Watch returns ctx.Err() when ctx ends, or an error at once when the
// directory cannot be watched.
func Watch(ctx context.Context, path string, apply func(*Config, error)) error {
	return watch(ctx, path, apply, watchHooks{})
}

// watchHooks let tests see what Watch is doing; nil hooks are not called.
type watchHooks struct {
	// ready is called once the directory is watched: tests must not change
	// the file before that, or the change is lost.
	ready func()
	// waiting is called when a reload found the file missing or without
	// settings and waits a second quiet period before saying so.
	waiting func()
}

// watch is Watch with hooks for tests.
func watch(ctx context.Context, path string, apply func(*Config, error), h watchHooks) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("config: watch: %w", err)
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("config: watch %s: %w", path, err)
	}
	// Close stops fsnotify's reader goroutine and waits for it.
	defer w.Close()

	// The directory, not the file: editors (vim, VS Code) save by renaming
	// a new file over the old one, and Kubernetes or Docker config mounts
	// swap a symlinked ..data directory. A watch on the file itself stays
	// with the old inode and sees nothing after the first save.
	dir := filepath.Dir(abs)
	if err := w.Add(dir); err != nil {
		return fmt.Errorf("config: watch %s: %w", dir, err)
	}
	realDir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		realDir = dir
	}
	s := &watchState{w: w, path: path, abs: abs, realDir: realDir, waiting: h.waiting}
	s.retarget()
	// Read after Add, so that any later change is seen as an event.
	if data, err := readFile(path); err == nil {
		s.seen, s.haveSeen = sha256.Sum256(data), true
	}
	if h.ready != nil {
		h.ready()
	}

	// Since Go 1.23 Stop and Reset leave no stale tick in C, so the timer
	// needs no draining.
	timer := time.NewTimer(quietPeriod)
	timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case ev, ok := <-w.Events:
			if !ok {
				return errors.New("config: watch: fsnotify stopped")
			}
			if s.concerns(ev) {
				timer.Reset(quietPeriod)
			}
		case err, ok := <-w.Errors:
			if !ok {
				return errors.New("config: watch: fsnotify stopped")
			}
			// Mostly an overflowing event queue: events were lost, one of
			// them perhaps a save, so look at the file again.
			slog.Warn("config watch", "path", path, "err", err)
			timer.Reset(quietPeriod)
		case <-timer.C:
			s.retarget()
			if s.reload(apply) {
				timer.Reset(quietPeriod)
			}
		}
	}
}

// watchState is what Watch's loop remembers between events. Only Watch's
// goroutine uses it.
type watchState struct {
	w       *fsnotify.Watcher
	path    string // as given to Watch; names the file in errors and Config.Path
	abs     string // path made absolute, as fsnotify names events in the directory
	realDir string // the watched directory with symlinks resolved

	// target is abs with symlinks resolved at the last reload, "" when it
	// did not resolve. A config mount changes it without any event naming
	// the file.
	target string
	// targetDir is the directory of target when that is not realDir (path
	// is a symlink elsewhere), also watched so that saves to the real file
	// are seen. "" when there is none.
	targetDir string

	seen     [32]byte // SHA-256 of the content last loaded
	haveSeen bool     // whether seen holds anything; false after a read error
	lastErr  string   // the error last reported; "" after a good load

	// pending is set when a reload found no file, or one with no settings,
	// and waits one more quiet period for the save to finish before saying
	// so.
	pending bool
	waiting func() // watchHooks.waiting
}

// concerns reports whether ev may have changed the config.
func (s *watchState) concerns(ev fsnotify.Event) bool {
	name := filepath.Clean(ev.Name)
	if name == s.abs || (s.target != "" && name == s.target) {
		// Not Chmod: a touch or a permission change leaves the content
		// alone.
		return ev.Has(fsnotify.Write) || ev.Has(fsnotify.Create) ||
			ev.Has(fsnotify.Rename) || ev.Has(fsnotify.Remove)
	}
	// Another file in the directory. It matters only if it moved the
	// symlinks path goes through, as a Kubernetes ConfigMap update does
	// by renaming ..data; a write moves nothing. (A log written beside the
	// config sends a write event every few milliseconds.)
	if !ev.Has(fsnotify.Create) && !ev.Has(fsnotify.Rename) && !ev.Has(fsnotify.Remove) {
		return false
	}
	return s.resolve() != s.target
}

// resolve returns abs with symlinks resolved, or "" when that fails
// (usually because the file is missing).
func (s *watchState) resolve() string {
	t, err := filepath.EvalSymlinks(s.abs)
	if err != nil {
		return ""
	}
	return t
}

// retarget records where path now leads and moves the extra watch on the
// target's directory there.
func (s *watchState) retarget() {
	s.target = s.resolve()
	d := ""
	if s.target != "" && filepath.Dir(s.target) != s.realDir {
		d = filepath.Dir(s.target)
	}
	if d == s.targetDir {
		return
	}
	if s.targetDir != "" {
		// Fails harmlessly when the directory is already gone, as the old
		// data directory of a config mount is after an update.
		s.w.Remove(s.targetDir)
		s.targetDir = ""
	}
	// Best effort: the watch on path's own directory still sees renames
	// and swaps; left unset, the next retarget tries again.
	if d != "" && s.w.Add(d) == nil {
		s.targetDir = d
	}
}

// reload reads and parses the file and calls apply if what it found is
// news. It reports whether the file was, for the first time, missing or
// without settings, in which case the caller looks again after another
// quiet period.
func (s *watchState) reload(apply func(*Config, error)) (retry bool) {
	data, err := readFile(s.path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) && s.wait() {
			// Maybe between the remove and the rename of a save.
			return true
		}
		s.pending = false
		// Whatever comes back is news, even the content that was there
		// before: the caller has been told of this error since.
		s.haveSeen = false
		s.report(nil, err, apply)
		return false
	}
	sum := sha256.Sum256(data)
	if s.haveSeen && sum == s.seen {
		s.pending = false
		return false
	}
	c, err := Parse(data, s.path)
	if errors.Is(err, errEmpty) && s.wait() {
		// Maybe between the truncate and the write of a save in place.
		return true
	}
	s.pending = false
	s.seen, s.haveSeen = sum, true
	if err == nil {
		c.Path = s.path
	}
	s.report(c, err, apply)
	return false
}

// wait reports whether to look at the file again after another quiet
// period, rather than report what was found: only the first time in a row.
func (s *watchState) wait() bool {
	if s.pending {
		return false
	}
	s.pending = true
	if s.waiting != nil {
		s.waiting()
	}
	return true
}

// report passes a load's outcome to apply, except an error that is the one
// last reported: one that persists across saves (a comment added to a still
// broken file) is reported once.
func (s *watchState) report(c *Config, err error, apply func(*Config, error)) {
	if err == nil {
		s.lastErr = ""
		apply(c, nil)
		return
	}
	if msg := err.Error(); msg != s.lastErr {
		s.lastErr = msg
		apply(nil, err)
	}
}
