package sysport

// CloexecFrom marks every open descriptor from from up close-on-exec, so
// that what this process inherited does not reach its children. macOS
// lists them in /dev/fd.
func CloexecFrom(from int) { cloexecListed("/dev/fd", from) }
