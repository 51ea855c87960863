// Package sysport holds what herd needs from the kernel that differs
// between the systems it runs on (Linux, macOS, FreeBSD), so that the
// rest of herd is written once. Each function has a file per system (or
// per group of systems); README.md's "Systems" table says what differs.
//
//	                  Linux                 FreeBSD              macOS
//	close-on-exec     SOCK_CLOEXEC,         as Linux             socketpair, accept,
//	                  MSG_CMSG_CLOEXEC,                          recvmsg, then
//	                  accept4                                    FD_CLOEXEC (fork lock)
//	wait with timeout ppoll                 poll                 poll
//	inherited fds     /proc/self/fd         close_range          /dev/fd
//	peer's uid        SO_PEERCRED           LOCAL_PEERCRED       LOCAL_PEERCRED
//	socket's family   SO_DOMAIN             SO_DOMAIN            getsockname
package sysport
