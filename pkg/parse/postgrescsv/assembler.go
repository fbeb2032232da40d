package postgrescsv

import (
	"bytes"

	"github.com/dbsec/dbsec/pkg/parse/internal/csvrec"
	"github.com/dbsec/dbsec/pkg/parse/postgres"
)

// Assembler joins the physical lines of a csvlog record (see csvrec): a
// record whose quotes never balance is ended by a line that starts like a
// new csvlog record ("YYYY-MM-DD HH:MM:SS[.mmm] ZONE,") or by MaxRecord.
type Assembler = csvrec.Assembler

// NewAssembler returns an assembler.
func NewAssembler() *Assembler { return csvrec.New(looksLikeRecordStart, MaxRecord) }

// looksLikeRecordStart reports whether line starts with a csvlog log_time
// followed by a comma.
func looksLikeRecordStart(line []byte) bool {
	i := bytes.IndexByte(line, ',')
	if i < 19 || i > 40 {
		return false
	}
	_, ok := postgres.ParseTime(line[:i], nil)
	return ok
}
