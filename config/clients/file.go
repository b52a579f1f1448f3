package clients

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/aymanbagabas/go-udiff"
)

// A backup sits beside the file it saves. A file setup created has a
// marker instead, and undo removes the file.
const (
	backupSuffix  = ".localrouter-backup"
	createdSuffix = ".localrouter-created"
)

// change is a client's file before and after setup.
type change struct {
	path     string
	old, new []byte
	existed  bool
	mode     fs.FileMode
}

func readChange(path string) (*change, error) {
	c := &change{path: path, mode: 0o600}
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return c, nil
	case err != nil:
		return nil, fmt.Errorf("setup: %w", err)
	case !fi.Mode().IsRegular():
		return nil, fmt.Errorf("setup: %s is not a regular file", path)
	}
	if c.old, err = os.ReadFile(path); err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}
	c.existed, c.mode = true, fi.Mode().Perm()
	return c, nil
}

func (c *change) changed() bool { return !c.existed || !bytes.Equal(c.old, c.new) }

func (c *change) diff() string {
	if !c.changed() {
		return ""
	}
	from := c.path
	if !c.existed {
		from = "/dev/null"
	}
	return udiff.Unified(from, c.path, string(c.old), string(c.new))
}

// write saves the original once (a second run keeps the first backup:
// it is the user's own file) and then writes the new content atomically.
func (c *change) write() (backup string, err error) {
	if err := os.MkdirAll(filepath.Dir(c.path), 0o700); err != nil {
		return "", fmt.Errorf("setup: %w", err)
	}
	backup, has := existingBackup(c.path)
	if !has {
		if c.existed {
			backup = c.path + backupSuffix
			err = writeAtomic(backup, c.old, c.mode)
		} else {
			backup = c.path + createdSuffix
			err = writeAtomic(backup, nil, 0o600)
		}
		if err != nil {
			return "", err
		}
	}
	return backup, writeAtomic(c.path, c.new, c.mode)
}

func existingBackup(path string) (string, bool) {
	for _, s := range []string{backupSuffix, createdSuffix} {
		if _, err := os.Lstat(path + s); err == nil {
			return path + s, true
		}
	}
	return "", false
}

// undo restores path from its backup byte for byte, mode included, or
// removes the file setup created.
func undo(path string) (string, error) {
	backup, ok := existingBackup(path)
	if !ok {
		return "", fmt.Errorf("setup: %w: no %s beside %s", ErrNothingToUndo, filepath.Base(path+backupSuffix), path)
	}
	if strings.HasSuffix(backup, createdSuffix) {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("setup: %w", err)
		}
	} else {
		fi, err := os.Stat(backup)
		if err != nil {
			return "", fmt.Errorf("setup: %w", err)
		}
		data, err := os.ReadFile(backup)
		if err != nil {
			return "", fmt.Errorf("setup: %w", err)
		}
		if err := writeAtomic(path, data, fi.Mode().Perm()); err != nil {
			return "", err
		}
	}
	if err := os.Remove(backup); err != nil {
		return "", fmt.Errorf("setup: %w", err)
	}
	return backup, nil
}

// writeAtomic writes data to path through a temporary file in the same
// directory, so a crash leaves the old file or the new one, never half.
func writeAtomic(path string, data []byte, mode fs.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // fails harmlessly once renamed
	if _, err = f.Write(data); err == nil {
		err = f.Chmod(mode)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		return fmt.Errorf("setup: write %s: %w", path, err)
	}
	return nil
}
