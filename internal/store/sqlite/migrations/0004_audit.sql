-- 0004: the audit log.
--
-- Each record is a CloudTrail-format event as the audit package wrote it
-- (body, which its hash chain covers) plus the fields lookups filter on.
-- Records are appended and never updated; pruning removes a prefix of each
-- writer's chain and leaves an anchor so the rest still verifies.
CREATE TABLE audit_events (
	id            INTEGER PRIMARY KEY, -- rowid: appends go to the end of the table
	writer        TEXT    NOT NULL CHECK (writer <> ''),
	seq           INTEGER NOT NULL CHECK (seq > 0),
	event_time    INTEGER NOT NULL, -- Unix nanoseconds, as every time in this store
	event_id      TEXT    NOT NULL,
	event_name    TEXT    NOT NULL,
	event_source  TEXT    NOT NULL,
	read_only     INTEGER NOT NULL,
	username      TEXT    NOT NULL,
	access_key_id TEXT    NOT NULL,
	error_code    TEXT    NOT NULL,
	subject       TEXT    NOT NULL,
	resources     TEXT    NOT NULL, -- each name between two NUL characters
	body          BLOB    NOT NULL,
	UNIQUE (writer, seq)
) STRICT;

-- Lookups are by time range, newest first, filtered on the other columns.
CREATE INDEX audit_events_time ON audit_events (event_time, writer, seq);

CREATE TABLE audit_anchors (
	writer TEXT    PRIMARY KEY,
	seq    INTEGER NOT NULL,
	hash   TEXT    NOT NULL
) STRICT;
