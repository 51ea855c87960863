package sysport

// CloexecFrom marks every open descriptor from from up close-on-exec, so
// that what this process inherited does not reach its children. Linux
// lists them in /proc/self/fd.
func CloexecFrom(from int) { cloexecListed("/proc/self/fd", from) }
