package server

import "syscall"

// DefaultMaxStreams is the default bound of open event streams: the
// process's file descriptor limit less a quarter of it (at least 128), kept
// for the database, the listener, uploads and plain requests. Each stream
// holds one descriptor for as long as it is open; without a bound, streams
// took every descriptor and /readyz and every request timed out, where now
// the stream that does not fit is refused with 503 and the API stays
// reachable. (Go raises the soft limit to the hard one at start.)
func DefaultMaxStreams() int {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil || lim.Cur == 0 || lim.Cur > 1<<30 {
		return 1 << 20
	}
	n := int(lim.Cur)
	return max(16, n-max(128, n/4))
}
