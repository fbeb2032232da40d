package taosadaptersql

import (
	"bytes"
	"time"

	"github.com/dbsec/dbsec/pkg/parse/internal/csvrec"
)

// Assembler joins the physical lines of a record whose sql holds newlines
// (see csvrec). A record whose quotes never balance is ended by a line that
// starts like a new row ("2006-01-02 15:04:05.000000,") or by MaxRecord.
type Assembler = csvrec.Assembler

// NewAssembler returns an assembler.
func NewAssembler() *Assembler { return csvrec.New(looksLikeRecordStart, MaxRecord) }

// looksLikeRecordStart reports whether line starts with a ts column
// followed by a comma.
func looksLikeRecordStart(line []byte) bool {
	i := bytes.IndexByte(line, ',')
	if i < 19 || i > timeLayoutLen+3 {
		return false
	}
	_, ok := parseTime(line[:i], time.UTC)
	return ok
}
