package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// envPath names the environment variable that overrides the default path.
const envPath = "LOCALROUTER_CONFIG_PATH"

// ResolvePath returns the config file to use: flagPath when set, else
// $LOCALROUTER_CONFIG_PATH, else localrouter/config.yaml in
// os.UserConfigDir (~/.config/localrouter/config.yaml on Linux). The
// result is absolute: it is recorded for launch at login and opened from
// the tray, neither of which runs in the current directory.
func ResolvePath(flagPath string) (string, error) {
	p := flagPath
	if p == "" {
		p = os.Getenv(envPath)
	}
	if p == "" {
		dir, err := os.UserConfigDir()
		if err != nil {
			return "", fmt.Errorf("config: find the default path (use --config or $%s): %w", envPath, err)
		}
		p = filepath.Join(dir, "localrouter", "config.yaml")
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", fmt.Errorf("config: %w", err)
	}
	return abs, nil
}

// Ensure creates the file at path from template when it does not exist,
// and reports whether it did. Missing parent directories are created with
// mode 0700 and the file with mode 0600, since it will hold API keys. The
// file appears whole or not at all (temporary file, sync, rename), so a
// crash never leaves a half-written config behind. An existing file is
// never touched.
func Ensure(path string, template []byte) (created bool, err error) {
	if _, err := os.Stat(path); err == nil {
		return false, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("config: %w", err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return false, fmt.Errorf("config: %w", err)
	}
	// os.CreateTemp makes the file with mode 0600.
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return false, fmt.Errorf("config: %w", err)
	}
	defer func() {
		if !created {
			os.Remove(f.Name())
		}
	}()
	if _, err := f.Write(template); err != nil {
		f.Close()
		return false, fmt.Errorf("config: write %s: %w", f.Name(), err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return false, fmt.Errorf("config: sync %s: %w", f.Name(), err)
	}
	if err := f.Close(); err != nil {
		return false, fmt.Errorf("config: %w", err)
	}
	// Another process may have created path since the Stat above. Renaming
	// over it then replaces a file that is, in practice, this same
	// template written by a second LocalRouter starting at the same moment.
	if err := os.Rename(f.Name(), path); err != nil {
		return false, fmt.Errorf("config: %w", err)
	}
	syncDir(dir)
	return true, nil
}

// syncDir makes a rename in dir durable. It is best effort: some systems
// (Windows) cannot open or sync a directory, and the file itself is already
// complete.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// Load reads and parses the config file at path. The file must be a
// regular file (symlinks are followed) of at most 4 MiB; a FIFO, a device
// or a directory is an error, and so is a read that hangs for 10s.
func Load(path string) (*Config, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, err
	}
	c, err := Parse(data, path)
	if err != nil {
		return nil, err
	}
	c.Path = path
	return c, nil
}

// Parse decodes and validates a config. name identifies data in error
// messages, normally the file's path.
//
// Decoding is strict: unknown and duplicate keys and values of the wrong
// type are errors. Absent or null fields get their defaults (see Default),
// but a file with no settings at all (empty, blank, only comments or null)
// is an error, wrapping errEmpty: it is far more likely truncated than
// meant, and its defaults would drop every provider.
// In values, never in keys, ${VAR} and ${VAR:-default} expand from the
// environment after YAML parsing, so an environment value is always plain
// text; a value that expands to nothing counts as absent. All problems are
// reported, joined, each as "config FILE:LINE:COLUMN: field: problem",
// and never quote a value from data. Parse leaves Path empty; Load sets it.
func Parse(data []byte, name string) (*Config, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		// Before YAML parsing, which would complain of a tab in a blank line.
		return nil, emptyError(name)
	}
	root, err := parseDocument(data, name)
	if err != nil {
		return nil, err
	}
	if root == nil || isNull(root) {
		return nil, emptyError(name)
	}
	c := Default()
	c.src = name
	c.nodes = map[string]nodeInfo{}
	d := &decoder{file: name, nodes: c.nodes}
	d.document(root, c)
	if err := joinErrors(append(d.errs, c.validate()...), c.Secrets()); err != nil {
		return nil, err
	}
	return c, nil
}

// errEmpty is wrapped by the error for a config file with no settings.
var errEmpty = errors.New("the file has no settings")

func emptyError(name string) error {
	return &fieldError{file: name, err: errEmpty,
		msg: errEmpty.Error() + " (it is empty or only comments); to start again from the template, delete it: LocalRouter creates it anew when it starts"}
}
