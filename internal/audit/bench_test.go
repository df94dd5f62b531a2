package audit_test

import (
	"context"
	"strings"
	"testing"

	"github.com/oidcfed/oidcfed/internal/audit"
	"github.com/oidcfed/oidcfed/internal/store"
	"github.com/oidcfed/oidcfed/internal/store/postgres"
	"github.com/oidcfed/oidcfed/internal/store/postgres/pgtest"
)

// BenchmarkRecord measures durable records through group commit: 8
// goroutines per CPU recording at once, as connections of load do, in the
// journal (what the embedded store's server uses), in the embedded
// store's own tables with FULL sync (what it used before the journal),
// and on PostgreSQL (synchronous commit, the server scripts/postgres
// starts; skipped without one).
//
//	go test -run '^$' -bench Record ./internal/audit/
//	scripts/postgres run go test -run '^$' -bench Record ./internal/audit/
func BenchmarkRecord(b *testing.B) {
	b.Run("journal", func(b *testing.B) {
		j, err := audit.OpenJournal(b.TempDir(), audit.JournalOptions{})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = j.Close() })
		benchRecord(b, audit.Options{Backend: j, Writer: "bench"})
	})
	b.Run("sqlite", func(b *testing.B) {
		st, _ := openStore(b)
		benchRecord(b, audit.Options{Store: st, Writer: "bench"})
	})
	b.Run("postgres", func(b *testing.B) {
		st, err := postgres.Open(context.Background(), postgres.Config{URL: pgtest.NewSchema(b)})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { st.Close() })
		benchRecord(b, audit.Options{Store: st, Writer: "bench"})
	})
}

func benchRecord(b *testing.B, opts audit.Options) {
	l := newLog(b, opts)
	ev := event(1)
	ev.RequestParameters = map[string]any{"roleArn": "arn:aws:iam::000000000000:role/deploy", "roleSessionName": "pipeline-4242"}
	ev.ResponseElements = map[string]any{"credentials": map[string]string{"accessKeyId": "ASIAQWERTYUIOPASDFGH", "expiration": "Nov 22, 2026, 2:02:03 AM"}}
	ev.OIDCFed.Job = &audit.Job{ProjectPath: "mygroup/myproject", Ref: "main", RefType: "branch", PipelineID: "4242", JobID: "777"}
	ev.OIDCFed.Token = &audit.Token{SHA256: "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff", Issuer: "https://gitlab.example.com",
		Subject: "project_path:mygroup/myproject:ref_type:branch:ref:main", Audience: []string{"sts.amazonaws.com"}}
	b.SetParallelism(8)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			e := *ev
			if err := l.Record(context.Background(), &e); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkJournalCommit times one commit of 6 records of 2.5 KB (a
// group commit's size at 16 connections) made durable, with direct I/O
// (submitted asynchronously, or a blocking pwrite) and through the page
// cache; it reports the process's CPU time per commit beside the wall
// time. One goroutine committing alone: what asynchronous submission
// saves, threads and Ps handed over while requests wait, shows only
// under load (scripts/load).
//
//	go test -run '^$' -bench JournalCommit -count 3 ./internal/audit/
func BenchmarkJournalCommit(b *testing.B) {
	for _, mode := range []struct {
		name          string
		direct, async bool
	}{{"direct-async", true, true}, {"direct-pwrite", true, false}, {"pagecache", false, false}} {
		b.Run(mode.name, func(b *testing.B) {
			restoreDirect, restoreAsync := audit.SetDirectIO(mode.direct), audit.SetAsyncIO(mode.async)
			j, err := audit.OpenJournal(b.TempDir(), audit.JournalOptions{})
			restoreDirect()
			restoreAsync()
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = j.Close() })
			body := []byte(`{"pad":"` + strings.Repeat("x", 2500) + `"}`)
			recs := make([]store.AuditRecord, 6)
			seq := uint64(0)
			cpu0 := processCPU()
			b.ResetTimer()
			for b.Loop() {
				for i := range recs {
					seq++
					recs[i] = store.AuditRecord{Writer: "bench", Seq: seq, Time: t0, EventID: "e", Body: body}
				}
				if err := j.Append(context.Background(), recs); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}
