-- 0005: KMS keys and aliases.
--
-- The kms package owns a key's metadata (its JSON body here); the key
-- material is sealed under the master key with AAD oidcfed/kms-key/<id>
-- and never leaves the keys package in the clear.
CREATE TABLE kms_keys (
	id              TEXT PRIMARY KEY CHECK (id <> ''),
	body            BLOB NOT NULL CHECK (json_valid(body)),
	sealed_material BLOB NOT NULL CHECK (length(sealed_material) > 0)
) STRICT, WITHOUT ROWID;

CREATE TABLE kms_aliases (
	name       TEXT PRIMARY KEY CHECK (name <> ''),
	key_id     TEXT NOT NULL REFERENCES kms_keys (id),
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX kms_aliases_key ON kms_aliases (key_id);
