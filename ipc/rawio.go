package ipc

import (
	"io"
	"syscall"
	"unsafe"

	"github.com/herdhq/herd/internal/sysport"
	"golang.org/x/sys/unix"
)

// The channel's socket is non-blocking (net's poller owns it), so its
// sendmsg and recvmsg return at once, EAGAIN when they would wait, and
// the channel makes them as raw system calls inside the poller's RawConn,
// which parks the goroutine on EAGAIN. A plain syscall.Syscall tells the
// Go scheduler that the thread may block: in a process that was idle,
// that wakes the runtime's monitor thread (sysmon), a wake-up per message
// on a channel that carries one handle per connection.

// rawSendFlags and rawRecvFlags make the raw calls return at once even
// if someone cleared the socket's O_NONBLOCK, keep a closed peer from
// raising SIGPIPE, and make received descriptors close-on-exec.
const (
	rawSendFlags = unix.MSG_DONTWAIT | unix.MSG_NOSIGNAL
	rawRecvFlags = unix.MSG_DONTWAIT | sysport.RecvFlags
)

// msghdr returns the header of a sendmsg or recvmsg of b and oob; iov
// must live as long as the header.
func msghdr(b, oob []byte, iov *unix.Iovec) *unix.Msghdr {
	var h unix.Msghdr
	if len(b) > 0 {
		iov.Base = &b[0]
		iov.SetLen(len(b))
		h.Iov, h.Iovlen = iov, 1
	}
	if len(oob) > 0 {
		h.Control = &oob[0]
		h.SetControllen(len(oob))
	}
	return &h
}

// sendRaw makes one non-blocking sendmsg of b on the socket s, with oob
// as ancillary data.
func sendRaw(s uintptr, b, oob []byte) (int, error) {
	var iov unix.Iovec
	h := msghdr(b, oob, &iov)
	n, _, e := unix.RawSyscall(unix.SYS_SENDMSG, s, uintptr(unsafe.Pointer(h)), rawSendFlags)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

// recvRaw makes one non-blocking recvmsg on the socket s into b and oob;
// descriptors received are close-on-exec.
func recvRaw(s uintptr, b, oob []byte) (n, oobn, flags int, err error) {
	var iov unix.Iovec
	h := msghdr(b, oob, &iov)
	r, _, e := unix.RawSyscall(unix.SYS_RECVMSG, s, uintptr(unsafe.Pointer(h)), rawRecvFlags)
	if e != 0 {
		return 0, 0, 0, e
	}
	if sysport.RecvFlags == 0 && h.Controllen > 0 {
		sysport.CloexecRights(oob[:h.Controllen])
	}
	return int(r), int(h.Controllen), int(h.Flags), nil
}

// rawWriter writes through a RawConn with a callback made once (a
// closure per write would allocate). One goroutine at a time uses it.
type rawWriter struct {
	b, oob []byte
	cmsg   [4]uint64 // rights' buffer, aligned for a Cmsghdr
	n      int
	err    error
	nowait bool // one attempt: a full socket writes nothing, and is no error
	fn     func(uintptr) bool
}

// write writes b on rc, with oob on the first bytes that go, parking in
// the poller while the socket is full (nowait: making one attempt). It
// returns how much went.
func (o *rawWriter) write(rc syscall.RawConn, b, oob []byte, nowait bool) (int, error) {
	if o.fn == nil {
		o.fn = o.try
	}
	o.b, o.oob, o.n, o.err, o.nowait = b, oob, 0, nil, nowait
	cerr := rc.Write(o.fn)
	n, err := o.n, o.err
	o.b, o.oob = nil, nil
	if err == nil {
		err = cerr
	}
	return n, err
}

// rights returns fd as SCM_RIGHTS ancillary data, as unix.UnixRights
// builds it, in o's own buffer (unix.UnixRights allocates): valid until
// the next call.
func (o *rawWriter) rights(fd int) []byte {
	b := unsafe.Slice((*byte)(unsafe.Pointer(&o.cmsg[0])), unix.CmsgSpace(4))
	clear(b)
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	h.Level = unix.SOL_SOCKET
	h.Type = unix.SCM_RIGHTS
	h.SetLen(unix.CmsgLen(4))
	*(*int32)(unsafe.Pointer(&b[unix.CmsgLen(0)])) = int32(fd)
	return b
}

// try is the RawConn callback of write.
func (o *rawWriter) try(s uintptr) bool {
	for o.n < len(o.b) && o.err == nil {
		m, e := sendRaw(s, o.b[o.n:], o.oob)
		switch {
		case e == unix.EAGAIN:
			return o.nowait
		case e == unix.EINTR:
			continue
		}
		o.n, o.oob, o.err = o.n+m, nil, e
		if o.nowait {
			return true
		}
	}
	return true
}

// rawReader reads through a RawConn with a callback made once. One
// goroutine at a time uses it.
type rawReader struct {
	b, oob         []byte
	n, oobn, flags int
	err            error
	fn             func(uintptr) bool
}

// read reads once into b and oob from rc, parking in the poller until
// there is something to read; the end of the stream is io.EOF.
func (o *rawReader) read(rc syscall.RawConn, b, oob []byte) (n, oobn, flags int, err error) {
	if o.fn == nil {
		o.fn = o.try
	}
	o.b, o.oob = b, oob
	cerr := rc.Read(o.fn)
	n, oobn, flags, err = o.n, o.oobn, o.flags, o.err
	o.b, o.oob = nil, nil
	switch {
	case cerr != nil:
		return 0, 0, 0, cerr
	case err == nil && n == 0 && len(b) > 0:
		err = io.EOF
	}
	return n, oobn, flags, err
}

// try is the RawConn callback of read.
func (o *rawReader) try(s uintptr) bool {
	o.n, o.oobn, o.flags, o.err = recvRaw(s, o.b, o.oob)
	for o.err == unix.EINTR {
		o.n, o.oobn, o.flags, o.err = recvRaw(s, o.b, o.oob)
	}
	return o.err != unix.EAGAIN
}
