// Package cputime measures the CPU time a process used, so benchmarks can
// report throughput per core that holds on a busy machine, where wall time
// also counts waiting for a CPU.
package cputime

import (
	"syscall"
	"time"
)

// Now is the CPU time (user + system, all threads) the process used so far.
func Now() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
