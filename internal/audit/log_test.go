package audit_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oidcfed/oidcfed/internal/audit"
	"github.com/oidcfed/oidcfed/internal/store"
	"github.com/oidcfed/oidcfed/internal/store/sqlite"
)

var t0 = time.Date(2026, 11, 22, 1, 2, 3, 0, time.UTC)

func openStore(t testing.TB) (*sqlite.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.db")
	st, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st, path
}

// fileSink is a JSON Lines file, as serve opens one.
func fileSink(t *testing.T, path string) *os.File {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	return f
}

func newLog(t testing.TB, opts audit.Options) *audit.Log {
	t.Helper()
	if opts.Now == nil {
		opts.Now = func() time.Time { return t0 }
	}
	l, err := audit.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Close)
	return l
}

func event(i int) *audit.Event {
	return &audit.Event{
		EventSource: audit.SourceSTS, EventName: "AssumeRoleWithWebIdentity", AWSRegion: "us-east-1",
		UserIdentity: audit.UserIdentity{Type: "WebIdentityUser", UserName: fmt.Sprintf("sub-%d", i)},
		RequestID:    fmt.Sprintf("req-%d", i), ReadOnly: true, RecipientAccountID: "000000000000",
		Resources: []audit.Resource{{Type: "AWS::IAM::Role", ARN: "arn:aws:iam::000000000000:role/deploy"}},
		Subject:   fmt.Sprintf("sub-%d", i),
	}
}

// recordConcurrently records n events from n goroutines (one group commit
// or several) and fails the test on any error.
func recordConcurrently(t *testing.T, l *audit.Log, n int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() { errs <- l.Record(context.Background(), event(i)) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestRecordChainsAndVerifies(t *testing.T) {
	st, _ := openStore(t)
	jsonl := filepath.Join(t.TempDir(), "audit.jsonl")
	l := newLog(t, audit.Options{Store: st, JSONL: fileSink(t, jsonl), Writer: "w1"})
	recordConcurrently(t, l, 200)

	reports, err := audit.Verify(context.Background(), audit.StoreBackend(st))
	if err != nil {
		t.Fatal(err)
	}
	if len(reports) != 1 || !audit.OK(reports) || reports[0].Records != 200 || reports[0].First != 1 || reports[0].Last != 200 {
		t.Fatalf("store chains: %+v", reports)
	}
	f, err := os.Open(jsonl)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fromFile, err := audit.VerifyJSONL(f)
	if err != nil || len(fromFile) != 1 || !audit.OK(fromFile) || fromFile[0].Records != 200 {
		t.Fatalf("JSON Lines chains: %+v, %v", fromFile, err)
	}

	// Records read back are CloudTrail events with their chain element.
	var recs []store.AuditRecord
	_ = st.View(context.Background(), func(tx store.Tx) (err error) {
		recs, err = tx.QueryAuditRecords(context.Background(), store.AuditQuery{Subject: "sub-7"})
		return err
	})
	if len(recs) != 1 {
		t.Fatalf("lookup by subject: %d records", len(recs))
	}
	var ev map[string]any
	if err := json.Unmarshal(recs[0].Body, &ev); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{"eventVersion": "1.08", "eventTime": "2026-11-22T01:02:03Z", "eventType": "AwsApiCall",
		"eventCategory": "Management", "managementEvent": true, "recipientAccountId": "000000000000"} {
		if ev[k] != want {
			t.Errorf("%s = %v, want %v", k, ev[k], want)
		}
	}
	chain := ev["oidcfed"].(map[string]any)["chain"].(map[string]any)
	if chain["writer"] != "w1" || chain["seq"] != float64(recs[0].Seq) {
		t.Errorf("chain element %v for record %d", chain, recs[0].Seq)
	}
	if recs[0].Username != "sub-7" || !slices.Equal(recs[0].Resources, []string{"arn:aws:iam::000000000000:role/deploy", "type:AWS::IAM::Role", "deploy"}) {
		t.Errorf("lookup fields: %+v", recs[0])
	}
}

// TestVerifyNamesTheFirstBreak edits, deletes and reorders records in the
// database file, as someone with access to it could, and checks that
// Verify names the first record that no longer follows.
func TestVerifyNamesTheFirstBreak(t *testing.T) {
	cases := []struct {
		name   string
		tamper string
		seq    uint64
		want   string
	}{
		{"edited body", `UPDATE audit_events SET body = CAST(replace(CAST(body AS TEXT), 'sub-', 'SUB-') AS BLOB) WHERE seq = 5`, 6, "record 6 does not follow record 5"},
		{"deleted record", `DELETE FROM audit_events WHERE seq = 5`, 6, "record 5 is missing"},
		{"deleted last record is not a break", `DELETE FROM audit_events WHERE seq = 10`, 0, ""},
		{"renumbered record", `UPDATE audit_events SET seq = 11 WHERE seq = 5`, 6, "record 5 is missing"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, path := openStore(t)
			l := newLog(t, audit.Options{Store: st, Writer: "w1"})
			for i := range 10 {
				if err := l.Record(context.Background(), event(i)); err != nil {
					t.Fatal(err)
				}
			}
			db, err := sql.Open("sqlite", path)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := db.Exec(tc.tamper); err != nil {
				t.Fatal(err)
			}
			db.Close()
			reports, err := audit.Verify(context.Background(), audit.StoreBackend(st))
			if err != nil {
				t.Fatal(err)
			}
			r := reports[0]
			if tc.want == "" {
				if r.Break != "" {
					t.Fatalf("break reported: %+v", r)
				}
				return
			}
			if r.BreakSeq != tc.seq || !strings.Contains(r.Break, tc.want) {
				t.Fatalf("report %+v, want a break at %d: %q", r, tc.seq, tc.want)
			}
		})
	}
}

func TestPruneKeepsTheRestVerifiable(t *testing.T) {
	st, path := openStore(t)
	now := t0
	var mu sync.Mutex
	l := newLog(t, audit.Options{Store: st, Writer: "w1", Now: func() time.Time { mu.Lock(); defer mu.Unlock(); return now }})
	for i := range 10 {
		mu.Lock()
		now = t0.Add(time.Duration(i) * time.Minute)
		mu.Unlock()
		if err := l.Record(context.Background(), event(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Update(context.Background(), func(tx store.Tx) error {
		_, err := tx.PruneAuditRecords(context.Background(), t0.Add(4*time.Minute))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	reports, err := audit.Verify(context.Background(), audit.StoreBackend(st))
	if err != nil || !audit.OK(reports) || reports[0].First != 5 || reports[0].Records != 6 {
		t.Fatalf("after prune: %+v, %v", reports, err)
	}
	// Removing the oldest kept record is still detected: the anchor says
	// where the chain resumes.
	db, _ := sql.Open("sqlite", path)
	defer db.Close()
	if _, err := db.Exec(`DELETE FROM audit_events WHERE seq = 5`); err != nil {
		t.Fatal(err)
	}
	reports, _ = audit.Verify(context.Background(), audit.StoreBackend(st))
	if audit.OK(reports) || reports[0].BreakSeq != 6 {
		t.Fatalf("deleting the first kept record: %+v", reports)
	}
}

// TestFailedSinkFailsTheRecord: a sink that cannot be written (a full
// disk) fails every request waiting on the commit.
func TestFailedSinkFailsTheRecord(t *testing.T) {
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skip("no /dev/full:", err)
	}
	defer full.Close()
	st, _ := openStore(t)
	l := newLog(t, audit.Options{Store: st, JSONL: full, Writer: "w1"})
	err = l.Record(context.Background(), event(1))
	if err == nil || !strings.Contains(err.Error(), "no space left") {
		t.Fatalf("Record with a full disk: %v", err)
	}
	// A closed store: the commit itself fails.
	st2, _ := openStore(t)
	l2 := newLog(t, audit.Options{Store: st2, Writer: "w2"})
	_ = st2.Close()
	if err := l2.Record(context.Background(), event(1)); err == nil {
		t.Fatal("Record on a closed store succeeded")
	}
	l2.Close()
	if err := l2.Record(context.Background(), event(2)); !errors.Is(err, audit.ErrClosed) {
		t.Fatalf("Record after Close: %v", err)
	}
}

// TestEventHasNoEscapedHTML: messages are written as AWS writes them,
// "<" and "&" included.
func TestEventHasNoEscapedHTML(t *testing.T) {
	st, _ := openStore(t)
	l := newLog(t, audit.Options{Store: st, Writer: "w1"})
	ev := event(1)
	ev.ErrorMessage = "a <b> & c"
	if err := l.Record(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	var recs []store.AuditRecord
	_ = st.View(context.Background(), func(tx store.Tx) (err error) {
		recs, err = tx.QueryAuditRecords(context.Background(), store.AuditQuery{})
		return err
	})
	if !bytes.Contains(recs[0].Body, []byte(`"errorMessage":"a <b> & c"`)) {
		t.Errorf("body %s", recs[0].Body)
	}
}

// lostAck commits an Update and then reports it failed, once armed: what
// a client sees when the database connection drops after COMMIT reached
// the server.
type lostAck struct {
	store.Store
	armed bool
}

func (s *lostAck) Update(ctx context.Context, fn func(store.Tx) error) error {
	err := s.Store.Update(ctx, fn)
	if err == nil && s.armed {
		s.armed = false
		return errors.New("connection reset while committing")
	}
	return err
}

// TestCommitReportedFailedButCommitted: after such a commit the log's chain
// continues after what the store holds, instead of failing every later
// commit on a taken sequence number; the chain still verifies.
func TestCommitReportedFailedButCommitted(t *testing.T) {
	st, _ := openStore(t)
	flaky := &lostAck{Store: st}
	l := newLog(t, audit.Options{Store: flaky, Writer: "w1"})
	if err := l.Record(context.Background(), event(1)); err != nil {
		t.Fatal(err)
	}
	flaky.armed = true
	if err := l.Record(context.Background(), event(2)); err == nil {
		t.Fatal("the commit reported failed did not fail its request")
	}
	for i := 3; i <= 5; i++ {
		if err := l.Record(context.Background(), event(i)); err != nil {
			t.Fatalf("record %d after the lost acknowledgement: %v", i, err)
		}
	}
	reports, err := audit.Verify(context.Background(), audit.StoreBackend(st))
	if err != nil || !audit.OK(reports) || len(reports) != 1 || reports[0].Records != 5 {
		t.Fatalf("chains: %+v, %v; want one whole chain of 5 (the unacknowledged record included)", reports, err)
	}
}
