package storetest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/oidcfed/oidcfed/internal/store"
)

// auditRecord is record seq of writer, at t0 + seq seconds.
func auditRecord(writer string, seq uint64) store.AuditRecord {
	return store.AuditRecord{
		Writer: writer, Seq: seq, Time: t0.Add(time.Duration(seq) * time.Second),
		EventID: fmt.Sprintf("%s-%d", writer, seq), EventName: "AssumeRoleWithWebIdentity", EventSource: "sts.amazonaws.com",
		ReadOnly: true, Username: "project_path:g/p:ref_type:branch:ref:main", AccessKeyID: "ASIA" + writer,
		Subject: "project_path:g/p:ref_type:branch:ref:main", Resources: []string{"arn:aws:iam::000000000000:role/r" + writer},
		Body: fmt.Appendf(nil, `{"eventID":"%s-%d"}`, writer, seq),
	}
}

func appendAudit(t *testing.T, s store.Store, records ...store.AuditRecord) {
	t.Helper()
	update(t, s, func(tx store.Tx) error { return tx.AppendAuditRecords(context.Background(), records) })
}

func queryAudit(t *testing.T, s store.Store, q store.AuditQuery) []string {
	t.Helper()
	var ids []string
	view(t, s, func(tx store.Tx) error {
		rs, err := tx.QueryAuditRecords(context.Background(), q)
		for _, r := range rs {
			ids = append(ids, r.EventID)
		}
		return err
	})
	return ids
}

func testAuditAppendQuery(t *testing.T, s store.Store) {
	a2 := auditRecord("a", 2)
	a2.EventName, a2.ReadOnly, a2.ErrorCode, a2.Subject = "CreateRole", false, "AccessDenied", "other"
	a2.Resources = []string{"arn:aws:iam::000000000000:role/x", "x"}
	appendAudit(t, s, auditRecord("a", 1), a2, auditRecord("b", 1))
	no := false
	cases := []struct {
		name string
		q    store.AuditQuery
		want []string
	}{
		// a-1 and b-1 share a time: ties go by writer, then seq.
		{"all newest first", store.AuditQuery{}, []string{"a-2", "b-1", "a-1"}},
		{"oldest first", store.AuditQuery{Oldest: true}, []string{"a-1", "b-1", "a-2"}},
		{"event name", store.AuditQuery{EventName: "CreateRole"}, []string{"a-2"}},
		{"event id", store.AuditQuery{EventID: "b-1"}, []string{"b-1"}},
		{"access key", store.AuditQuery{AccessKeyID: "ASIAb"}, []string{"b-1"}},
		{"resource whole name", store.AuditQuery{Resource: "x"}, []string{"a-2"}},
		{"resource not a part", store.AuditQuery{Resource: "role/x"}, nil},
		{"subject", store.AuditQuery{Subject: "other"}, []string{"a-2"}},
		{"errors only", store.AuditQuery{ErrorsOnly: true}, []string{"a-2"}},
		{"read-write", store.AuditQuery{ReadOnly: &no}, []string{"a-2"}},
		{"since", store.AuditQuery{Since: t0.Add(2 * time.Second), Oldest: true}, []string{"a-2"}},
		{"until", store.AuditQuery{Until: t0.Add(2 * time.Second)}, []string{"b-1", "a-1"}},
		{"limit", store.AuditQuery{Limit: 1}, []string{"a-2"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := queryAudit(t, s, tc.q); !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	view(t, s, func(tx store.Tx) error {
		rs, err := tx.QueryAuditRecords(context.Background(), store.AuditQuery{EventID: "a-2"})
		if err != nil {
			return err
		}
		r := rs[0]
		if !r.Time.Equal(a2.Time) || r.Time.Location() != time.UTC || string(r.Body) != string(a2.Body) ||
			!slices.Equal(r.Resources, a2.Resources) || r.Writer != "a" || r.Seq != 2 || r.ReadOnly {
			t.Errorf("round trip: %+v", r)
		}
		return nil
	})
}

func testAuditPaging(t *testing.T, s store.Store) {
	var all []store.AuditRecord
	for i := uint64(1); i <= 7; i++ {
		all = append(all, auditRecord("w", i))
	}
	appendAudit(t, s, all...)
	for _, oldest := range []bool{false, true} {
		var got []string
		var after *store.AuditPosition
		for range 10 {
			var page []store.AuditRecord
			view(t, s, func(tx store.Tx) (err error) {
				page, err = tx.QueryAuditRecords(context.Background(), store.AuditQuery{Limit: 3, After: after, Oldest: oldest})
				return err
			})
			for _, r := range page {
				got = append(got, r.EventID)
			}
			if len(page) < 3 {
				break
			}
			last := page[len(page)-1]
			after = &store.AuditPosition{Time: last.Time, Writer: last.Writer, Seq: last.Seq}
		}
		want := []string{"w-7", "w-6", "w-5", "w-4", "w-3", "w-2", "w-1"}
		if oldest {
			slices.Reverse(want)
		}
		if !slices.Equal(got, want) {
			t.Errorf("oldest=%v: pages %q, want %q", oldest, got, want)
		}
	}
}

func testAuditDuplicateSeq(t *testing.T, s store.Store) {
	appendAudit(t, s, auditRecord("w", 1))
	err := s.Update(context.Background(), func(tx store.Tx) error {
		return tx.AppendAuditRecords(context.Background(), []store.AuditRecord{auditRecord("w", 2), auditRecord("w", 1)})
	})
	if !errors.Is(err, store.ErrAlreadyExists) {
		t.Fatalf("duplicate (writer, seq): %v, want ErrAlreadyExists", err)
	}
	if got := queryAudit(t, s, store.AuditQuery{}); !slices.Equal(got, []string{"w-1"}) {
		t.Errorf("after the failed batch: %q, want only w-1 (all or nothing)", got)
	}
}

func testAuditPrune(t *testing.T, s store.Store) {
	var rs []store.AuditRecord
	for i := uint64(1); i <= 5; i++ {
		rs = append(rs, auditRecord("a", i), auditRecord("b", i))
	}
	appendAudit(t, s, rs...)
	var removed int64
	update(t, s, func(tx store.Tx) (err error) {
		removed, err = tx.PruneAuditRecords(context.Background(), t0.Add(3*time.Second)) // a-1, a-2, b-1, b-2
		return err
	})
	if removed != 4 {
		t.Errorf("removed %d, want 4", removed)
	}
	sum := sha256.Sum256(auditRecord("a", 2).Body)
	view(t, s, func(tx store.Tx) error {
		chains, err := tx.AuditChains(context.Background())
		if err != nil {
			return err
		}
		if len(chains) != 2 || chains[0].Writer != "a" || chains[0].First != 3 || chains[0].Last != 5 || chains[0].Count != 3 ||
			chains[0].Anchor == nil || chains[0].Anchor.Seq != 2 || chains[0].Anchor.Hash != hex.EncodeToString(sum[:]) {
			t.Errorf("chains after prune: %+v (anchor %+v)", chains, chains[0].Anchor)
		}
		got, err := tx.AuditChain(context.Background(), "a", 0, 2)
		if err != nil {
			return err
		}
		if len(got) != 2 || got[0].Seq != 3 || got[1].Seq != 4 {
			t.Errorf("chain a from 0, 2 records: %+v", got)
		}
		return nil
	})
	// Pruning everything leaves the anchor, so the chain's end is still known.
	update(t, s, func(tx store.Tx) error {
		_, err := tx.PruneAuditRecords(context.Background(), t0.Add(time.Hour))
		return err
	})
	view(t, s, func(tx store.Tx) error {
		chains, err := tx.AuditChains(context.Background())
		if err == nil && (len(chains) != 2 || chains[1].Count != 0 || chains[1].Anchor == nil || chains[1].Anchor.Seq != 5) {
			t.Errorf("chains after pruning all: %+v", chains)
		}
		return err
	})
}

func testAuditAnchorSet(t *testing.T, s store.Store) {
	ctx := context.Background()
	appendAudit(t, s, auditRecord("b", 8))
	for _, a := range []store.AuditAnchor{{Writer: "a", Seq: 3, Hash: "h3"}, {Writer: "a", Seq: 5, Hash: "h5"}, {Writer: "b", Seq: 7, Hash: "h7"}} {
		update(t, s, func(tx store.Tx) error { return tx.SetAuditAnchor(ctx, a) })
	}
	view(t, s, func(tx store.Tx) error {
		chains, err := tx.AuditChains(ctx)
		if err != nil {
			return err
		}
		if len(chains) != 2 || chains[0].Writer != "a" || chains[0].Count != 0 || chains[0].Anchor == nil ||
			*chains[0].Anchor != (store.AuditAnchor{Writer: "a", Seq: 5, Hash: "h5"}) ||
			chains[1].Anchor == nil || chains[1].Anchor.Seq != 7 || chains[1].First != 8 {
			t.Errorf("chains: %+v", chains)
		}
		return nil
	})
	err := s.Update(ctx, func(tx store.Tx) error { return tx.SetAuditAnchor(ctx, store.AuditAnchor{Writer: "c"}) })
	if err == nil {
		t.Error("SetAuditAnchor accepted an anchor without seq and hash")
	}
}

// testAuditAppender: a store's AuditAppender, if it has one, appends as an
// Update running AppendAuditRecords would: all or nothing, ErrAlreadyExists
// on a taken (writer, seq).
func testAuditAppender(t *testing.T, s store.Store) {
	a, ok := s.(store.AuditAppender)
	if !ok {
		t.Skip("the store has no AuditAppender")
	}
	ctx := context.Background()
	if err := a.AppendAuditRecords(ctx, []store.AuditRecord{auditRecord("w", 1), auditRecord("w", 2)}); err != nil {
		t.Fatal(err)
	}
	err := a.AppendAuditRecords(ctx, []store.AuditRecord{auditRecord("w", 3), auditRecord("w", 2)})
	wantErrIs(t, "a taken seq", err, store.ErrAlreadyExists)
	if got := queryAudit(t, s, store.AuditQuery{Oldest: true}); !slices.Equal(got, []string{"w-1", "w-2"}) {
		t.Errorf("records %q, want w-1 and w-2 only (all or nothing)", got)
	}
}
