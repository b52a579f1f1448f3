//go:build !(linux || darwin)

package h1

import "syscall"

const peekSupported = false

func alive(syscall.RawConn) bool { return true }
