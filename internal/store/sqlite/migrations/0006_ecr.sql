-- 0006: ECR repositories, images, tags and blob links.
--
-- The ecr package owns a repository's body (JSON: creation time,
-- settings, repository policy). Images are the manifests pushed to a
-- repository, kept whole (at most 4 MiB each, as ECR allows); tags name
-- them. Blobs live in files outside the database, content-addressed;
-- ecr_blob_links says which repository may serve which blob, so a digest
-- known from one repository cannot be read through another.
CREATE TABLE ecr_repositories (
	name TEXT PRIMARY KEY CHECK (name <> ''),
	body BLOB NOT NULL CHECK (json_valid(body))
) STRICT, WITHOUT ROWID;

CREATE TABLE ecr_images (
	repository    TEXT NOT NULL REFERENCES ecr_repositories (name) ON DELETE CASCADE,
	digest        TEXT NOT NULL CHECK (digest <> ''),
	media_type    TEXT NOT NULL,
	artifact_type TEXT NOT NULL,
	manifest      BLOB NOT NULL CHECK (length(manifest) > 0),
	size          INTEGER NOT NULL CHECK (size >= 0),
	subject       TEXT NOT NULL,
	children      TEXT NOT NULL CHECK (json_valid(children)),
	pushed_at     INTEGER NOT NULL,
	PRIMARY KEY (repository, digest)
) STRICT, WITHOUT ROWID;
CREATE INDEX ecr_images_subject ON ecr_images (repository, subject) WHERE subject <> '';

CREATE TABLE ecr_tags (
	repository TEXT NOT NULL,
	tag        TEXT NOT NULL CHECK (tag <> ''),
	digest     TEXT NOT NULL,
	updated_at INTEGER NOT NULL,
	PRIMARY KEY (repository, tag),
	FOREIGN KEY (repository, digest) REFERENCES ecr_images (repository, digest) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;
CREATE INDEX ecr_tags_digest ON ecr_tags (repository, digest);

CREATE TABLE ecr_blob_links (
	repository TEXT NOT NULL REFERENCES ecr_repositories (name) ON DELETE CASCADE,
	digest     TEXT NOT NULL CHECK (digest <> ''),
	size       INTEGER NOT NULL CHECK (size >= 0),
	created_at INTEGER NOT NULL,
	PRIMARY KEY (repository, digest)
) STRICT, WITHOUT ROWID;
CREATE INDEX ecr_blob_links_digest ON ecr_blob_links (digest);
