package main

import "io"

// logSink writes each log line to stderr and to the log file independently.
// io.MultiWriter stops at the first failing writer, so a stderr whose reader
// went away (`localrouter | tee`, a restarting log shipper, a closed
// terminal) would also end file logging.
type logSink struct {
	stderr, file io.Writer
}

// Write reports only the file's error: a dead stderr is the case this type
// exists for, and the file is the log that is kept.
func (s logSink) Write(p []byte) (int, error) {
	s.stderr.Write(p)
	return s.file.Write(p)
}
