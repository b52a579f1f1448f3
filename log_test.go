package main

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
)

type brokenPipe struct{}

func (brokenPipe) Write([]byte) (int, error) { return 0, errors.New("write |1: broken pipe") }

func TestLogSinkKeepsFileWhenStderrFails(t *testing.T) {
	var file bytes.Buffer
	log := slog.New(slog.NewTextHandler(logSink{brokenPipe{}, &file}, nil))
	log.Info("one")
	log.Info("two")
	if got := strings.Count(file.String(), "msg="); got != 2 {
		t.Errorf("log file got %d lines, want 2:\n%s", got, file.String())
	}
}
