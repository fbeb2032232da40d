//go:build !linux

package victorialogs

import "os"

// segWriter appends records to the open segment: one write per call, so
// that a record is durable against a killed process once written.
type segWriter interface {
	write(b []byte) error
	close() error
}

type fileSegment struct{ f *os.File }

func openSegment(path string, _ int64) (segWriter, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND|os.O_TRUNC, 0o640)
	if err != nil {
		return nil, err
	}
	return &fileSegment{f: f}, nil
}

func (s *fileSegment) write(b []byte) error { _, err := s.f.Write(b); return err }
func (s *fileSegment) close() error         { return s.f.Close() }
