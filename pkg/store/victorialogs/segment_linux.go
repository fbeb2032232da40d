//go:build linux

package victorialogs

import (
	"os"
	"syscall"
)

// segWriter appends records to the open segment. On Linux the segment is
// a file of its final maximum size, reserved with fallocate (so that a full
// disk fails here, not as a fault on a page) and mapped into memory: a
// record is durable against a killed process once copied, without a
// system call per record. close cuts the file to what was written.
type segWriter interface {
	write(b []byte) error
	close() error
}

type mmapSegment struct {
	f   *os.File
	mem []byte
	n   int
}

func openSegment(path string, size int64) (segWriter, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|os.O_TRUNC, 0o640)
	if err != nil {
		return nil, err
	}
	if err := syscall.Fallocate(int(f.Fd()), 0, 0, size); err != nil {
		f.Close()
		os.Remove(path)
		return nil, err
	}
	mem, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		f.Close()
		os.Remove(path)
		return nil, err
	}
	return &mmapSegment{f: f, mem: mem}, nil
}

func (m *mmapSegment) write(b []byte) error {
	if m.n+len(b) > len(m.mem) {
		return syscall.ENOSPC
	}
	copy(m.mem[m.n:], b)
	m.n += len(b)
	return nil
}

func (m *mmapSegment) close() error {
	err := syscall.Munmap(m.mem)
	if e := m.f.Truncate(int64(m.n)); err == nil {
		err = e
	}
	if e := m.f.Close(); err == nil {
		err = e
	}
	return err
}
