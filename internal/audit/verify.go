package audit

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"

	"github.com/oidcfed/oidcfed/internal/store"
)

// ChainReport is what Verify found in one writer's chain.
type ChainReport struct {
	Writer  string
	Records int64
	First   uint64 // sequence number it starts at (after any prune anchor)
	Last    uint64
	// Break describes the first record that does not follow its
	// predecessor; "" when the chain is whole.
	Break    string
	BreakSeq uint64
}

// OK reports whether every chain verified.
func OK(reports []ChainReport) bool {
	for _, r := range reports {
		if r.Break != "" {
			return false
		}
	}
	return true
}

// chained is the part of a record Verify reads back.
type chained struct {
	OIDCFed struct {
		Chain *Chain `json:"chain"`
	} `json:"oidcfed"`
}

// checker follows one chain record by record.
type checker struct {
	report   ChainReport
	nextSeq  uint64
	prevHash string
}

func newChecker(writer string, anchor *store.AuditAnchor) *checker {
	c := &checker{report: ChainReport{Writer: writer}, nextSeq: 1, prevHash: zeroHash}
	if anchor != nil {
		c.nextSeq, c.prevHash = anchor.Seq+1, anchor.Hash
	}
	return c
}

// add checks one record; false once the chain is broken.
func (c *checker) add(seq uint64, body []byte) bool {
	if c.report.Break != "" {
		return false
	}
	fail := func(format string, args ...any) bool {
		c.report.Break, c.report.BreakSeq = fmt.Sprintf(format, args...), seq
		return false
	}
	if seq != c.nextSeq {
		if seq > c.nextSeq {
			return fail("record %d is missing (the next record is %d)", c.nextSeq, seq)
		}
		return fail("record %d appears again or out of order (expected %d)", seq, c.nextSeq)
	}
	var r chained
	if err := json.Unmarshal(body, &r); err != nil || r.OIDCFed.Chain == nil {
		return fail("record %d is not an audit event with a chain element", seq)
	}
	ch := r.OIDCFed.Chain
	switch {
	case ch.Writer != c.report.Writer || ch.Seq != seq:
		return fail("record %d says it is %s #%d", seq, ch.Writer, ch.Seq)
	case ch.Prev != c.prevHash:
		return fail("record %d does not follow record %d (its prev hash differs: it or an earlier record was changed)", seq, seq-1)
	}
	sum := sha256.Sum256(body)
	c.prevHash = hex.EncodeToString(sum[:])
	if c.report.Records == 0 {
		c.report.First = seq
	}
	c.report.Records++
	c.report.Last = seq
	c.nextSeq++
	return true
}

// Verify checks every chain the backend keeps, from its first record (or
// its prune anchor) to its last.
func Verify(ctx context.Context, b Backend) ([]ChainReport, error) {
	chains, err := b.Chains(ctx)
	if err != nil {
		return nil, err
	}
	const page = 1000
	var out []ChainReport
	for _, info := range chains {
		c := newChecker(info.Writer, info.Anchor)
		from := uint64(0)
		for {
			records, err := b.Chain(ctx, info.Writer, from, page)
			if err != nil {
				return nil, err
			}
			for _, r := range records {
				if !c.add(r.Seq, r.Body) {
					break
				}
			}
			if len(records) < page || c.report.Break != "" {
				break
			}
			from = records[len(records)-1].Seq + 1
		}
		out = append(out, c.report)
	}
	return out, nil
}

// VerifyJSONL checks the chains in a JSON Lines sink. A file holds every
// record its writers wrote since it was created, so each chain starts at
// record 1 unless the file was rotated; a chain whose first record is not
// 1 is checked from that record on, and the report's First says so.
func VerifyJSONL(r io.Reader) ([]ChainReport, error) {
	checkers := map[string]*checker{}
	var order []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	line := 0
	for sc.Scan() {
		line++
		body := sc.Bytes()
		if len(body) == 0 {
			continue
		}
		var rec chained
		if err := json.Unmarshal(body, &rec); err != nil || rec.OIDCFed.Chain == nil {
			return nil, fmt.Errorf("line %d is not an audit event with a chain element", line)
		}
		ch := rec.OIDCFed.Chain
		c, ok := checkers[ch.Writer]
		if !ok {
			c = newChecker(ch.Writer, nil)
			if ch.Seq != 1 {
				c.nextSeq, c.prevHash = ch.Seq, ch.Prev // a rotated file: start where it starts
			}
			checkers[ch.Writer] = c
			order = append(order, ch.Writer)
		}
		c.add(ch.Seq, body)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	out := make([]ChainReport, 0, len(order))
	for _, w := range order {
		out = append(out, checkers[w].report)
	}
	return out, nil
}
