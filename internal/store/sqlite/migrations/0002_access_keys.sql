-- 0002: long-term access keys (AKIA...), the account root user's first.
CREATE TABLE access_keys (
	id            TEXT    PRIMARY KEY CHECK (id <> ''),
	-- '' is the account's root user.
	user_name     TEXT    NOT NULL DEFAULT '',
	-- Sealed by the keys package with AAD store.AccessKeyAAD(id).
	sealed_secret BLOB    NOT NULL CHECK (length(sealed_secret) > 0),
	status        TEXT    NOT NULL CHECK (status IN ('Active', 'Inactive')),
	created_at    INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX access_keys_user ON access_keys (user_name, created_at, id);
