package bench

import (
	"bufio"
	"io"
	"math/rand/v2"
)

func bufioWriter(w io.Writer) *bufio.Writer { return bufio.NewWriter(w) }
func newRand() *rand.Rand                   { return rand.New(rand.NewPCG(3, 4)) }
