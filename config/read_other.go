//go:build !unix

package config

import "os"

// openFlags opens the config for reading; without FIFOs there is nothing to
// add (see read_unix.go).
const openFlags = os.O_RDONLY
