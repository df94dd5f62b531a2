-- 0003: IAM entities created through the IAM API.
--
-- The iam package owns the shape of each entity; the store keeps its JSON
-- body under (kind, key) and never interprets it. One table keeps every
-- backend's IAM code to a handful of statements; the entities are small,
-- looked up by key, and listed in key order.
CREATE TABLE iam_records (
	kind TEXT NOT NULL CHECK (kind <> ''),
	key  TEXT NOT NULL CHECK (key <> ''),
	body BLOB NOT NULL CHECK (json_valid(body)),
	PRIMARY KEY (kind, key)
) STRICT, WITHOUT ROWID;

-- One counter, bumped by every IAM write, so a process can tell in one read
-- whether its cached entities are still current.
CREATE TABLE iam_generation (
	id    INTEGER PRIMARY KEY CHECK (id = 1),
	value INTEGER NOT NULL
) STRICT;
INSERT INTO iam_generation (id, value) VALUES (1, 0);
