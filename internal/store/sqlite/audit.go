package sqlite

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/oidcfed/oidcfed/internal/store"
)

// Audit records.

// resourcesColumn keeps each name between NULs, so one LIKE-free instr()
// finds a whole name and never a part of one.
func resourcesColumn(names []string) string {
	if len(names) == 0 {
		return ""
	}
	return "\x00" + strings.Join(names, "\x00") + "\x00"
}

// auditInsertRows is how many records one INSERT statement carries: one
// statement for many rows costs SQLite and database/sql far less per
// record than a statement per row (13 parameters a row, well under
// SQLite's 32,766).
const auditInsertRows = 64

func (t *txn) AppendAuditRecords(ctx context.Context, records []store.AuditRecord) error {
	const op = "append audit records"
	if err := t.writable(op); err != nil {
		return err
	}
	const row = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
	args := make([]any, 0, 13*min(len(records), auditInsertRows))
	for len(records) > 0 {
		chunk := records[:min(len(records), auditInsertRows)]
		records = records[len(chunk):]
		args = args[:0]
		for i := range chunk {
			r := &chunk[i]
			if r.Writer == "" || r.Seq == 0 || len(r.Body) == 0 {
				return fmt.Errorf("%s: writer, seq and body must be set", op)
			}
			at, err := toNanos("audit event time", r.Time)
			if err != nil {
				return fmt.Errorf("%s: %w", op, err)
			}
			args = append(args, r.Writer, int64(r.Seq), at, r.EventID, r.EventName, r.EventSource,
				r.ReadOnly, r.Username, r.AccessKeyID, r.ErrorCode, r.Subject, resourcesColumn(r.Resources), r.Body)
		}
		query := `INSERT INTO audit_events (writer, seq, event_time, event_id, event_name, event_source, read_only,
			username, access_key_id, error_code, subject, resources, body) VALUES ` + row + strings.Repeat(", "+row, len(chunk)-1)
		if _, err := t.tx.ExecContext(ctx, query, args...); err != nil {
			return wrapErr(fmt.Sprintf("%s: %s #%d-%d", op, chunk[0].Writer, chunk[0].Seq, chunk[len(chunk)-1].Seq), err)
		}
	}
	return nil
}

const auditColumns = `writer, seq, event_time, event_id, event_name, event_source, read_only, username,
	access_key_id, error_code, subject, resources, body`

func scanAudit(rows *sql.Rows) (store.AuditRecord, error) {
	var r store.AuditRecord
	var seq, at int64
	var resources string
	err := rows.Scan(&r.Writer, &seq, &at, &r.EventID, &r.EventName, &r.EventSource, &r.ReadOnly, &r.Username,
		&r.AccessKeyID, &r.ErrorCode, &r.Subject, &resources, &r.Body)
	r.Seq, r.Time = uint64(seq), time.Unix(0, at).UTC()
	if resources != "" {
		r.Resources = strings.Split(strings.Trim(resources, "\x00"), "\x00")
	}
	return r, err
}

func (t *txn) QueryAuditRecords(ctx context.Context, q store.AuditQuery) ([]store.AuditRecord, error) {
	const op = "query audit records"
	var where []string
	var args []any
	add := func(cond string, v ...any) { where = append(where, cond); args = append(args, v...) }
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
		add("instr(resources, ?) > 0", "\x00"+q.Resource+"\x00")
	}
	if q.ReadOnly != nil {
		add("read_only = ?", *q.ReadOnly)
	}
	if q.ErrorsOnly {
		where = append(where, "error_code <> ''")
	}
	order := "DESC"
	cmp := "<"
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
	rows, err := t.tx.QueryContext(ctx, query, args...)
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
	rows, err := t.tx.QueryContext(ctx, `
		SELECT w.writer, coalesce(min(e.seq), 0), coalesce(max(e.seq), 0), count(e.seq), a.seq, a.hash
		FROM (SELECT writer FROM audit_events UNION SELECT writer FROM audit_anchors) w
		LEFT JOIN audit_events e ON e.writer = w.writer
		LEFT JOIN audit_anchors a ON a.writer = w.writer
		GROUP BY w.writer ORDER BY w.writer`)
	if err != nil {
		return nil, wrapErr(op, err)
	}
	defer rows.Close()
	var out []store.AuditChainInfo
	for rows.Next() {
		var c store.AuditChainInfo
		var first, last int64
		var anchorSeq sql.NullInt64
		var anchorHash sql.NullString
		if err := rows.Scan(&c.Writer, &first, &last, &c.Count, &anchorSeq, &anchorHash); err != nil {
			return nil, wrapErr(op, err)
		}
		c.First, c.Last = uint64(first), uint64(last)
		if anchorSeq.Valid {
			c.Anchor = &store.AuditAnchor{Writer: c.Writer, Seq: uint64(anchorSeq.Int64), Hash: anchorHash.String}
		}
		out = append(out, c)
	}
	return out, wrapErr(op, rows.Err())
}

func (t *txn) AuditChain(ctx context.Context, writer string, from uint64, limit int) ([]store.AuditRecord, error) {
	op := "read audit chain " + writer
	rows, err := t.tx.QueryContext(ctx, "SELECT "+auditColumns+" FROM audit_events WHERE writer = ? AND seq >= ? ORDER BY seq LIMIT ?",
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
	_, err := t.tx.ExecContext(ctx, `INSERT INTO audit_anchors (writer, seq, hash) VALUES (?, ?, ?)
		ON CONFLICT (writer) DO UPDATE SET seq = excluded.seq, hash = excluded.hash`, a.Writer, int64(a.Seq), a.Hash)
	return wrapErr(op, err)
}

func (t *txn) PruneAuditRecords(ctx context.Context, before time.Time) (int64, error) {
	const op = "prune audit records"
	if err := t.writable(op); err != nil {
		return 0, err
	}
	// Per writer, the newest record older than before ends the prefix to
	// remove; records are committed in sequence, so their times only go
	// back by the little a request takes to reach the log.
	rows, err := t.tx.QueryContext(ctx, "SELECT writer, max(seq) FROM audit_events WHERE event_time < ? GROUP BY writer", before.UnixNano())
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
		if err := t.tx.QueryRowContext(ctx, "SELECT body FROM audit_events WHERE writer = ? AND seq = ?", c.writer, c.seq).Scan(&body); err != nil {
			return 0, wrapErr(op, err)
		}
		sum := sha256.Sum256(body)
		if _, err := t.tx.ExecContext(ctx, `INSERT INTO audit_anchors (writer, seq, hash) VALUES (?, ?, ?)
			ON CONFLICT (writer) DO UPDATE SET seq = excluded.seq, hash = excluded.hash`, c.writer, c.seq, hex.EncodeToString(sum[:])); err != nil {
			return 0, wrapErr(op, err)
		}
		res, err := t.tx.ExecContext(ctx, "DELETE FROM audit_events WHERE writer = ? AND seq <= ?", c.writer, c.seq)
		if err != nil {
			return 0, wrapErr(op, err)
		}
		n, _ := res.RowsAffected()
		removed += n
	}
	return removed, nil
}
