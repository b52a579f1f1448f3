//go:build linux || darwin

package h1

import "syscall"

const peekSupported = true

// alive reports whether an idle connection is still open and quiet: one
// non-blocking peek at the socket, where net/http keeps a goroutine
// reading every idle connection. A server that closed it (uvicorn, under
// vLLM, does after 5 s) has sent its FIN, which the peek sees as the end.
func alive(raw syscall.RawConn) bool {
	if raw == nil {
		return true
	}
	open := false
	var b [1]byte
	err := raw.Read(func(fd uintptr) bool {
		_, _, rerr := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		// Nothing to read is the one good answer: 0 bytes is the end, a
		// byte is one the server sent unasked.
		open = rerr == syscall.EAGAIN || rerr == syscall.EWOULDBLOCK
		return true
	})
	return err == nil && open
}
