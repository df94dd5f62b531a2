-- 0001: runners and issuer signing keys.
--
-- Times are INTEGER nanoseconds since the Unix epoch (UTC): they sort and
-- compare as numbers, round-trip Go's time.Time exactly, and carry no
-- time-zone text to misparse. NULL means "not set" for the optional ones.
--
-- Tables are STRICT so a value of the wrong type is an error instead of
-- being stored as whatever SQLite's type affinity makes of it.

CREATE TABLE runners (
	-- AUTOINCREMENT: an id is never reused, even after the newest runner is
	-- deleted, so an audit record naming a runner id stays unambiguous.
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	name        TEXT    NOT NULL CHECK (name <> ''),
	-- SHA-256 of the bearer token; the token itself is never stored.
	token_hash  BLOB    NOT NULL UNIQUE CHECK (length(token_hash) > 0),
	-- JSON object: claim name -> array of globs.
	constraints TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(constraints)),
	created_at  INTEGER NOT NULL,
	revoked_at  INTEGER
) STRICT;

-- A name identifies one active runner; revoked runners keep their row (for
-- audit) without blocking the name from being reused.
CREATE UNIQUE INDEX runners_active_name ON runners (name) WHERE revoked_at IS NULL;

CREATE TABLE signing_keys (
	issuer             TEXT    NOT NULL,
	kid                TEXT    NOT NULL,
	algorithm          TEXT    NOT NULL,
	public_jwk         BLOB    NOT NULL,
	-- Sealed by the keys package with AAD store.SigningKeyAAD(issuer, kid).
	sealed_private_key BLOB    NOT NULL CHECK (length(sealed_private_key) > 0),
	created_at         INTEGER NOT NULL,
	activate_at        INTEGER NOT NULL,
	retire_at          INTEGER,
	expire_at          INTEGER,
	PRIMARY KEY (issuer, kid)
) STRICT, WITHOUT ROWID;

-- ListSigningKeys reads one issuer's keys in activation order.
CREATE INDEX signing_keys_schedule ON signing_keys (issuer, activate_at, kid);
