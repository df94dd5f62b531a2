package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/oidcfed/oidcfed/internal/store"
)

// Audit records.

// AppendAuditRecords inserts all records with one statement: the columns
// go as arrays and unnest turns them back into rows, so a group commit of
// hundreds of events is one round trip and one plan, whatever its size.
func (t *txn) AppendAuditRecords(ctx context.Context, records []store.AuditRecord) error {
	const op = "append audit records"
	if err := t.writable(op); err != nil {
		return err
	}
	if len(records) == 0 {
		return nil
	}
	sql, args, err := auditInsert(records)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	_, err = t.write(ctx, auditOp(records), sql, args...)
	return err
}

// AppendAuditRecords implements store.AuditAppender: the same statement as
// Tx.AppendAuditRecords, sent on its own, so it is its own transaction
// (all the rows or none, durable when it returns) and the audit log's group
// commit costs one round trip instead of BEGIN, the insert and COMMIT.
func (s *Store) AppendAuditRecords(ctx context.Context, records []store.AuditRecord) error {
	if len(records) == 0 {
		return nil
	}
	sql, args, err := auditInsert(records)
	if err != nil {
		return fmt.Errorf("append audit records: %w", err)
	}
	_, err = s.pool.Exec(ctx, sql, args...)
	return wrapErr(auditOp(records), err)
}

func auditOp(records []store.AuditRecord) string {
	return fmt.Sprintf("append audit records: %s #%d-%d", records[0].Writer, records[0].Seq, records[len(records)-1].Seq)
}

// auditInsert is the statement inserting records, and its arguments.
func auditInsert(records []store.AuditRecord) (string, []any, error) {
	n := len(records)
	var (
		writers, ids, names, sources, users, akids, codes, subjects = make([]string, n), make([]string, n), make([]string, n),
			make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		seqs, times = make([]int64, n), make([]int64, n)
		readOnly    = make([]bool, n)
		resources   = make([]string, n)
		bodies      = make([][]byte, n)
	)
	for i := range records {
		r := &records[i]
		if r.Writer == "" || r.Seq == 0 || len(r.Body) == 0 {
			return "", nil, fmt.Errorf("writer, seq and body must be set")
		}
		at, err := toNanos("audit event time", r.Time)
		if err != nil {
			return "", nil, err
		}
		writers[i], seqs[i], times[i] = r.Writer, int64(r.Seq), at
		ids[i], names[i], sources[i], readOnly[i] = r.EventID, r.EventName, r.EventSource, r.ReadOnly
		users[i], akids[i], codes[i], subjects[i] = r.Username, r.AccessKeyID, r.ErrorCode, r.Subject
		resources[i] = textArray(r.Resources)
		bodies[i] = r.Body
	}
	// Each record's resources travel as one array literal (unnest cannot
	// take a ragged two-dimensional array) and are parsed back on the
	// server.
	return `
		INSERT INTO audit_events (writer, seq, event_time, event_id, event_name, event_source, read_only,
			username, access_key_id, error_code, subject, resources, body)
		SELECT w, s, tm, i, nm, src, ro, u, ak, c, sub, res::text[], b
		FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::boolean[],
			$8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::bytea[])
			AS x(w, s, tm, i, nm, src, ro, u, ak, c, sub, res, b)`,
		[]any{writers, seqs, times, ids, names, sources, readOnly, users, akids, codes, subjects, resources, bodies}, nil
}

// textArray renders names as a PostgreSQL array literal, every element
// quoted, so any text (commas, braces, quotes, NULL) comes back as itself.
func textArray(names []string) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, n := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('"')
		for _, c := range []byte(n) {
			if c == '"' || c == '\\' {
				b.WriteByte('\\')
			}
			b.WriteByte(c)
		}
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return b.String()
}

const auditColumns = `writer, seq, event_time, event_id, event_name, event_source, read_only, username,
	access_key_id, error_code, subject, resources, body`

func scanAudit(rows pgx.Rows) (store.AuditRecord, error) {
	var r store.AuditRecord
	var seq, at int64
	err := rows.Scan(&r.Writer, &seq, &at, &r.EventID, &r.EventName, &r.EventSource, &r.ReadOnly, &r.Username,
		&r.AccessKeyID, &r.ErrorCode, &r.Subject, &r.Resources, &r.Body)
	r.Seq, r.Time = uint64(seq), time.Unix(0, at).UTC()
	if len(r.Resources) == 0 {
		r.Resources = nil
	}
	return r, err
}

func (t *txn) QueryAuditRecords(ctx context.Context, q store.AuditQuery) ([]store.AuditRecord, error) {
	const op = "query audit records"
	var where []string
	var args []any
	add := func(cond string, v ...any) {
		// Each condition names its parameters as ?; number them here.
		for _, a := range v {
			args = append(args, a)
			cond = strings.Replace(cond, "?", "$"+strconv.Itoa(len(args)), 1)
		}
		where = append(where, cond)
	}
	if !q.Since.IsZero() {
		add("event_time >= ?", q.Since.UnixNano())
	}
	if !q.Until.IsZero() {
		add("event_time < ?", q.Until.UnixNano())
	}
	for _, f := range []struct{ column, value string }{
		{"event_id", q.EventID}, {"event_name", q.EventName}, {"event_source", q.EventSource},
		{"username", q.Username}, {"access_key_id", q.AccessKeyID}, {"subject", q.Subject},
	} {
		if f.value != "" {
			add(f.column+" = ?", f.value)
		}
	}
	if q.Resource != "" {
		add("? = ANY (resources)", q.Resource)
	}
	if q.ReadOnly != nil {
		add("read_only = ?", *q.ReadOnly)
	}
	if q.ErrorsOnly {
		where = append(where, "error_code <> ''")
	}
	order, cmp := "DESC", "<"
	if q.Oldest {
		order, cmp = "ASC", ">"
	}
	if p := q.After; p != nil {
		add("(event_time, writer, seq) "+cmp+" (?, ?, ?)", p.Time.UnixNano(), p.Writer, int64(p.Seq))
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 1000
	}
	query := "SELECT " + auditColumns + " FROM audit_events"
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	query += fmt.Sprintf(" ORDER BY event_time %s, writer %s, seq %s LIMIT %d", order, order, order, limit)
	rows, err := t.tx.Query(ctx, query, args...)
	if err != nil {
		return nil, wrapErr(op, err)
	}
	defer rows.Close()
	var out []store.AuditRecord
	for rows.Next() {
		r, err := scanAudit(rows)
		if err != nil {
			return nil, wrapErr(op, err)
		}
		out = append(out, r)
	}
	return out, wrapErr(op, rows.Err())
}

func (t *txn) AuditChains(ctx context.Context) ([]store.AuditChainInfo, error) {
	const op = "list audit chains"
	rows, err := t.tx.Query(ctx, `
		SELECT w.writer, coalesce(min(e.seq), 0), coalesce(max(e.seq), 0), count(e.seq), a.seq, a.hash
		FROM (SELECT writer FROM audit_events UNION SELECT writer FROM audit_anchors) w
		LEFT JOIN audit_events e ON e.writer = w.writer
		LEFT JOIN audit_anchors a ON a.writer = w.writer
		GROUP BY w.writer, a.seq, a.hash ORDER BY w.writer`)
	if err != nil {
		return nil, wrapErr(op, err)
	}
	defer rows.Close()
	var out []store.AuditChainInfo
	for rows.Next() {
		var c store.AuditChainInfo
		var first, last int64
		var anchorSeq *int64
		var anchorHash *string
		if err := rows.Scan(&c.Writer, &first, &last, &c.Count, &anchorSeq, &anchorHash); err != nil {
			return nil, wrapErr(op, err)
		}
		c.First, c.Last = uint64(first), uint64(last)
		if anchorSeq != nil && anchorHash != nil {
			c.Anchor = &store.AuditAnchor{Writer: c.Writer, Seq: uint64(*anchorSeq), Hash: *anchorHash}
		}
		out = append(out, c)
	}
	return out, wrapErr(op, rows.Err())
}

func (t *txn) AuditChain(ctx context.Context, writer string, from uint64, limit int) ([]store.AuditRecord, error) {
	op := "read audit chain " + writer
	rows, err := t.tx.Query(ctx, "SELECT "+auditColumns+" FROM audit_events WHERE writer = $1 AND seq >= $2 ORDER BY seq LIMIT $3",
		writer, int64(from), limit)
	if err != nil {
		return nil, wrapErr(op, err)
	}
	defer rows.Close()
	var out []store.AuditRecord
	for rows.Next() {
		r, err := scanAudit(rows)
		if err != nil {
			return nil, wrapErr(op, err)
		}
		out = append(out, r)
	}
	return out, wrapErr(op, rows.Err())
}

func (t *txn) SetAuditAnchor(ctx context.Context, a store.AuditAnchor) error {
	op := "set audit anchor of " + a.Writer
	if err := t.writable(op); err != nil {
		return err
	}
	if a.Writer == "" || a.Seq == 0 || a.Hash == "" {
		return fmt.Errorf("%s: writer, seq and hash must be set", op)
	}
	_, err := t.write(ctx, op, `INSERT INTO audit_anchors (writer, seq, hash) VALUES ($1, $2, $3)
		ON CONFLICT (writer) DO UPDATE SET seq = excluded.seq, hash = excluded.hash`, a.Writer, int64(a.Seq), a.Hash)
	return err
}

func (t *txn) PruneAuditRecords(ctx context.Context, before time.Time) (int64, error) {
	const op = "prune audit records"
	if err := t.writable(op); err != nil {
		return 0, err
	}
	// Per writer, the newest record older than before ends the prefix to
	// remove.
	rows, err := t.tx.Query(ctx, "SELECT writer, max(seq) FROM audit_events WHERE event_time < $1 GROUP BY writer", before.UnixNano())
	if err != nil {
		return 0, wrapErr(op, err)
	}
	type cut struct {
		writer string
		seq    int64
	}
	var cuts []cut
	for rows.Next() {
		var c cut
		if err := rows.Scan(&c.writer, &c.seq); err != nil {
			rows.Close()
			return 0, wrapErr(op, err)
		}
		cuts = append(cuts, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, wrapErr(op, err)
	}
	var removed int64
	for _, c := range cuts {
		var body []byte
		if err := t.tx.QueryRow(ctx, "SELECT body FROM audit_events WHERE writer = $1 AND seq = $2", c.writer, c.seq).Scan(&body); err != nil {
			return 0, wrapErr(op, err)
		}
		sum := sha256.Sum256(body)
		if _, err := t.write(ctx, op, `INSERT INTO audit_anchors (writer, seq, hash) VALUES ($1, $2, $3)
			ON CONFLICT (writer) DO UPDATE SET seq = excluded.seq, hash = excluded.hash`, c.writer, c.seq, hex.EncodeToString(sum[:])); err != nil {
			return 0, err
		}
		tag, err := t.write(ctx, op, "DELETE FROM audit_events WHERE writer = $1 AND seq <= $2", c.writer, c.seq)
		if err != nil {
			return 0, err
		}
		removed += tag.RowsAffected()
	}
	return removed, nil
}
