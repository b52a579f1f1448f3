//go:build !unix

package config

// unixSpecialFiles is empty: there are no FIFOs or /dev/zero to point at.
func unixSpecialFiles() []specialFile { return nil }
