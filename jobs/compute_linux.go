package jobs

import "syscall"

// lowerThreadPriority raises the calling thread's nice value to nice, if it
// is lower (on Linux, nice values belong to threads).
func lowerThreadPriority(nice int) error {
	tid := syscall.Gettid()
	// The raw system call returns 20 - nice.
	prio, err := syscall.Getpriority(syscall.PRIO_PROCESS, tid)
	if err != nil {
		return err
	}
	if 20-prio >= nice {
		return nil
	}
	return syscall.Setpriority(syscall.PRIO_PROCESS, tid, nice)
}
