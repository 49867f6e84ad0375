package booking

import (
	"testing"
)

// byteChooser decodes the fuzzer's input into the simulation's choices: each choice reads
// one byte (two when there are more than 256 options), and an exhausted input reads zeros.
type byteChooser struct {
	data []byte
	pos  int
}

func (c *byteChooser) next() int {
	if c.pos >= len(c.data) {
		c.pos++
		return 0
	}
	b := c.data[c.pos]
	c.pos++
	return int(b)
}

func (c *byteChooser) Intn(n int) int {
	if n <= 1 {
		return 0
	}
	v := c.next()
	if n > 256 {
		v = v<<8 | c.next()
	}
	return v % n
}

func (c *byteChooser) done() bool { return c.pos >= len(c.data) }

// FuzzDecideCommands decodes its input into a command sequence (create, update, hold,
// replay, confirm, cancel, expire-due, prune, clone, restore, with clock moves in between)
// and runs it against State and the reference model. After every command the state must
// agree with the reference and keep 0 <= held, confirmed and held+confirmed <= capacity;
// nothing may panic.
func FuzzDecideCommands(f *testing.F) {
	// Create a resource ("create" is op 0..4, then name, buckets...), then commands.
	f.Add([]byte{})
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 2, 3, 5, 5, 20, 0, 0, 30, 1, 1, 1, 3})
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 3, 5, 3, 6, 4, 7, 5, 0, 20, 1, 9, 1, 2, 0, 0, 12, 0, 0, 0, 3, 1, 0, 1, 60, 0, 0, 0, 0, 70, 0, 8, 85, 9, 99})
	f.Add([]byte("the quick brown fox jumps over the lazy dog, again and again and again"))
	for seed := range 4 {
		b := make([]byte, 300)
		x := uint32(seed*7919 + 1)
		for i := range b {
			x = x*1664525 + 1013904223
			b[i] = byte(x >> 24)
		}
		b[0], b[1] = 0, 0 // start with a clock tick of 0 and a create
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 4096 {
			return
		}
		c := &byteChooser{data: data}
		m := newSim(t, c, "fuzz")
		for !c.done() && m.step < 500 {
			m.run()
		}
	})
}
