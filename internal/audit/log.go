package audit

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/oidcfed/oidcfed/internal/awsproto"
	"github.com/oidcfed/oidcfed/internal/store"
)

// ErrClosed is Record's error after Close.
var ErrClosed = errors.New("audit log closed")

// zeroHash is the Prev of a chain's first record.
var zeroHash = hex.EncodeToString(make([]byte, sha256.Size))

// Syncer is a JSON Lines sink: each commit writes its lines and then syncs
// (an *os.File; a sync a pipe or terminal cannot do is not an error).
type Syncer interface {
	io.Writer
	Sync() error
}

// Options configure a Log.
type Options struct {
	// Backend keeps the records; without one, Store does (StoreBackend).
	Backend Backend
	Store   store.Store
	// JSONL, when set, also receives every record as one line.
	JSONL Syncer
	// Writer names this process's chain; "" picks a random one.
	Writer string
	Now    func() time.Time
	Log    *slog.Logger
	// MaxBatch bounds how many records one commit takes (default 512).
	MaxBatch int
	// CommitTimeout bounds one commit (default 10 s): past it, the
	// requests waiting on it fail rather than hang.
	CommitTimeout time.Duration
}

// Log is the audit log. Record commits events in group commits without
// a committing goroutine of its own: the first request to find no commit
// under way leads one, taking every record queued so far; records that
// arrive meanwhile form the next batch, which one of their requests leads
// once the commit under way ends (leader-follower, as LevelDB's and
// MySQL's group commits). A separate committer would have to be scheduled
// after every wake-up and every sync, behind the requests themselves,
// when the CPUs are busy: measured, that kept batches at 3-4 records on
// 2 CPUs and a sync costs 60-100 µs of CPU here, more than the rest of
// the record.
type Log struct {
	opts   Options
	writer string

	mu      sync.Mutex
	next    *batch // records waiting for the commit under way; nil when none
	leading bool   // a commit is under way (its leader owns seq and prev)
	closed  bool
	// full are batches that reached MaxBatch before their turn, oldest
	// first; the batch after them is next.
	full []*batch
	idle *sync.Cond // signalled when leading becomes false

	// Owned by the leader of the commit under way.
	seq  uint64
	prev string
}

// batch is one group commit's records.
type batch struct {
	items []*pending
	lead  chan struct{} // the previous commit ended: a member leads this one
	done  chan struct{} // closed once committed; each pending has its error
	// signalled: lead was sent (guarded by Log.mu).
	signalled bool
}

func newBatch() *batch {
	return &batch{lead: make(chan struct{}, 1), done: make(chan struct{})}
}

type pending struct {
	rec store.AuditRecord // without Writer, Seq and Body
	// body is the event's JSON without its last two bytes ("}}", the
	// end of the "oidcfed" object and of the event), in a pooled buffer
	// with room for the chain element, which chain appends in place.
	body *[]byte
	err  error
}

// New starts a Log; Close stops it.
func New(opts Options) (*Log, error) {
	if opts.Backend == nil && opts.Store == nil {
		return nil, errors.New("audit: no backend")
	}
	if opts.Backend == nil {
		opts.Backend = StoreBackend(opts.Store)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 512
	}
	if opts.CommitTimeout <= 0 {
		opts.CommitTimeout = 10 * time.Second
	}
	writer := opts.Writer
	if writer == "" {
		host, _ := os.Hostname()
		if host == "" || len(host) > 64 {
			host = "oidcfed"
		}
		writer = host + "-" + randomHex(6)
	}
	l := &Log{opts: opts, writer: writer, prev: zeroHash}
	l.idle = sync.NewCond(&l.mu)
	return l, nil
}

// Writer is the name of this Log's chain.
func (l *Log) Writer() string { return l.writer }

// Close stops the Log once the commits under way (and the batch waiting
// for them) are done; later records fail with ErrClosed.
func (l *Log) Close() {
	l.mu.Lock()
	l.closed = true
	for l.leading {
		l.idle.Wait()
	}
	l.mu.Unlock()
}

// Record commits ev and returns once it is durable in every sink, or with
// the error that kept it from being so. It fills ev's fixed fields (event
// version, ID, type, category, time) when unset.
func (l *Log) Record(_ context.Context, ev *Event) error {
	if ev.Time.IsZero() {
		ev.Time = l.opts.Now()
	}
	ev.Time = ev.Time.UTC()
	ev.EventTime = ev.Time.Format(TimeFormat)
	ev.EventVersion = EventVersion
	if ev.EventID == "" {
		ev.EventID = awsproto.NewRequestID() // a random UUID, as CloudTrail's
	}
	ev.EventType, ev.EventCategory, ev.ManagementEvent = "AwsApiCall", "Management", true
	ev.OIDCFed.Chain = nil
	body, err := marshal(ev)
	if err != nil {
		return fmt.Errorf("audit: encode %s event: %w", ev.EventName, err)
	}
	p := &pending{rec: record(ev), body: body}
	defer releaseBody(body) // once committed, nothing holds the record's bytes

	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return ErrClosed
	}
	if l.next == nil {
		l.next = newBatch()
	}
	b := l.next
	b.items = append(b.items, p)
	if !l.leading {
		l.leading = true
		l.next = nil
		l.mu.Unlock()
		l.lead(b)
		return p.err
	}
	if len(b.items) >= l.opts.MaxBatch {
		l.next = nil // the next record starts another batch
		if !b.signalled {
			l.full = append(l.full, b) // still waiting its turn
		}
	}
	l.mu.Unlock()
	// The wait is bounded by the commits ahead (CommitTimeout each); it
	// ignores the request's context, since this request may have to lead.
	select {
	case <-b.done:
	case <-b.lead:
		l.mu.Lock()
		if l.next == b {
			l.next = nil
		}
		l.mu.Unlock()
		l.lead(b)
	}
	return p.err
}

// bodies recycles event buffers: each request's event is 2-4 KB, a
// sixth of what a request allocated, and the collector's work grows with
// it (scripts/load-roles: with 10,000 roles cached each collection marks
// more, so fewer collections is what keeps latency flat).
var bodies = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// maxPooledBody keeps an unusually large event's buffer out of the pool.
const maxPooledBody = 64 << 10

func releaseBody(b *[]byte) {
	if cap(*b) <= maxPooledBody {
		*b = (*b)[:0]
		bodies.Put(b)
	}
}

// marshal is ev's JSON as encoding/json writes it (appendEvent), less its
// closing "}}" (see pending.body), in a pooled buffer.
func marshal(ev *Event) (*[]byte, error) {
	b := bodies.Get().(*[]byte)
	out, err := appendEvent((*b)[:0], ev)
	if err != nil {
		releaseBody(b)
		return nil, err
	}
	*b = out[:len(out)-2]
	return b, nil
}

// record copies the fields lookups filter on out of ev.
func record(ev *Event) store.AuditRecord {
	r := store.AuditRecord{
		Time: ev.Time, EventID: ev.EventID, EventName: ev.EventName, EventSource: ev.EventSource,
		ReadOnly: ev.ReadOnly, Username: Username(ev), AccessKeyID: ev.UserIdentity.AccessKeyID,
		ErrorCode: ev.ErrorCode, Subject: ev.Subject,
	}
	for _, res := range ev.Resources {
		r.Resources = append(r.Resources, res.ARN, ResourceTypeKey(res.Type))
		if _, name, ok := cutLast(res.ARN, "/"); ok && name != "" {
			r.Resources = append(r.Resources, name)
		}
	}
	return r
}

func cutLast(s, sep string) (before, after string, ok bool) {
	for i := len(s) - len(sep); i >= 0; i-- {
		if s[i:i+len(sep)] == sep {
			return s[:i], s[i+len(sep):], true
		}
	}
	return s, "", false
}

// Username is the user name CloudTrail's lookups match: the IAM user, the
// role session's role, the web identity's subject, or "root".
func Username(ev *Event) string {
	id := ev.UserIdentity
	switch id.Type {
	case "Root":
		return "root"
	case "AssumedRole":
		if id.SessionContext != nil && id.SessionContext.SessionIssuer != nil {
			if _, session, ok := cutLast(id.ARN, "/"); ok {
				return session
			}
		}
	}
	return id.UserName
}

// lead commits b, then hands the lead to the oldest batch waiting, or
// ends it.
func (l *Log) lead(b *batch) {
	l.commit(b.items)
	close(b.done)
	l.mu.Lock()
	var next *batch
	if len(l.full) > 0 {
		next, l.full = l.full[0], l.full[1:]
	} else if l.next != nil {
		// Left open: records keep joining it until its leader runs.
		next = l.next
	}
	if next == nil {
		l.leading = false
		l.idle.Broadcast()
	} else {
		next.signalled = true
	}
	l.mu.Unlock()
	if next != nil {
		next.lead <- struct{}{}
	}
}

// commit writes one batch: chained, to the store in one transaction, then
// to the JSON Lines sink, then answers every request in it.
func (l *Log) commit(batch []*pending) {
	ctx, cancel := context.WithTimeout(context.Background(), l.opts.CommitTimeout)
	defer cancel()
	records, seq, prev := l.chain(batch)
	err := l.append(ctx, records)
	if errors.Is(err, store.ErrAlreadyExists) {
		// An earlier commit was reported failed but did commit (the
		// database connection dropped after COMMIT reached it), so the
		// store's chain is ahead of ours: carry on after what it holds
		// rather than fail every commit from now on.
		if rerr := l.resync(ctx); rerr != nil {
			err = errors.Join(err, rerr)
		} else {
			records, seq, prev = l.chain(batch)
			err = l.append(ctx, records)
		}
	}
	if err == nil {
		// The store has them: the chain moves on even if the file sink
		// fails below (its gap then shows in a verification of the file).
		l.seq, l.prev = seq, prev
		if l.opts.JSONL != nil {
			err = writeLines(l.opts.JSONL, records)
		}
	}
	if err != nil {
		l.opts.Log.Error("audit commit failed; its requests fail", "records", len(batch), "writer", l.writer, "cause", err)
		err = fmt.Errorf("audit: %w", err)
	}
	for _, p := range batch {
		p.err = err
	}
}

// append makes records durable in the backend, all or none.
func (l *Log) append(ctx context.Context, records []store.AuditRecord) error {
	return l.opts.Backend.Append(ctx, records)
}

// chain gives batch's events their places after l's last record.
func (l *Log) chain(batch []*pending) (records []store.AuditRecord, seq uint64, prev string) {
	seq, prev = l.seq, l.prev
	records = make([]store.AuditRecord, len(batch))
	for i, p := range batch {
		seq++
		body := withChain(p.body, l.writer, seq, prev)
		sum := sha256.Sum256(body)
		prev = hex.EncodeToString(sum[:])
		records[i] = p.rec
		records[i].Writer, records[i].Seq, records[i].Body = l.writer, seq, body
	}
	return records, seq, prev
}

// resync moves l's place in its chain to the last record the store holds
// for its writer.
func (l *Log) resync(ctx context.Context) error {
	chains, err := l.opts.Backend.Chains(ctx)
	if err != nil {
		return err
	}
	for _, c := range chains {
		if c.Writer != l.writer || c.Last <= l.seq {
			continue
		}
		last, err := l.opts.Backend.Chain(ctx, l.writer, c.Last, 1)
		if err != nil || len(last) != 1 {
			return errors.Join(err, fmt.Errorf("audit: record %d of %s vanished", c.Last, l.writer))
		}
		sum := sha256.Sum256(last[0].Body)
		l.opts.Log.Warn("audit chain resumed after a commit that was reported failed but was committed",
			"writer", l.writer, "from_seq", l.seq, "to_seq", c.Last)
		l.seq, l.prev = c.Last, hex.EncodeToString(sum[:])
		return nil
	}
	return errors.New("audit: the store holds no records past ours")
}

func writeLines(w Syncer, records []store.AuditRecord) error {
	var b bytes.Buffer
	for _, r := range records {
		b.Write(r.Body)
		b.WriteByte('\n')
	}
	if _, err := w.Write(b.Bytes()); err != nil {
		return fmt.Errorf("write JSON Lines: %w", err)
	}
	if err := w.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) && !isUnsyncable(err) {
		return fmt.Errorf("sync JSON Lines: %w", err)
	}
	return nil
}

// withChain appends the chain element to the event's "oidcfed" object,
// which marshal leaves last and open, and closes both, in body's buffer
// past its length: body itself stays as it was, for a commit tried again.
func withChain(body *[]byte, writer string, seq uint64, prev string) []byte {
	out := *body
	if out[len(out)-1] != '{' {
		out = append(out, ',')
	}
	out = append(out, `"chain":{"writer":`...)
	out = appendString(out, writer)
	out = append(out, `,"seq":`...)
	out = strconv.AppendUint(out, seq, 10)
	out = append(out, `,"prev":"`...)
	out = append(out, prev...)
	out = append(out, `"}}}`...)
	if cap(out) != cap(*body) {
		*body = out[:len(*body)] // grown: the pool gets the larger buffer
	}
	return out
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
