-- 0002: ECR repositories, images, tags and blob links (as SQLite's 0006).
--
-- The ecr package owns a repository's body (JSON). Images are the
-- manifests pushed to a repository, kept whole (at most 4 MiB each, as
-- ECR allows); tags name them. Blobs live in files outside the database,
-- content-addressed; ecr_blob_links says which repository may serve which
-- blob, so a digest known from one repository cannot be read through
-- another. Names and digests compare bytewise (COLLATE "C"), the order
-- the OCI distribution API pages tags in.
CREATE TABLE ecr_repositories (
	name TEXT COLLATE "C" PRIMARY KEY CHECK (name <> ''),
	body BYTEA NOT NULL
);

CREATE TABLE ecr_images (
	repository    TEXT COLLATE "C" NOT NULL REFERENCES ecr_repositories (name) ON DELETE CASCADE,
	digest        TEXT COLLATE "C" NOT NULL CHECK (digest <> ''),
	media_type    TEXT NOT NULL,
	artifact_type TEXT NOT NULL,
	manifest      BYTEA NOT NULL CHECK (length(manifest) > 0),
	size          BIGINT NOT NULL CHECK (size >= 0),
	subject       TEXT COLLATE "C" NOT NULL,
	children      TEXT NOT NULL,
	pushed_at     BIGINT NOT NULL,
	PRIMARY KEY (repository, digest)
);
CREATE INDEX ecr_images_subject ON ecr_images (repository, subject) WHERE subject <> '';

CREATE TABLE ecr_tags (
	repository TEXT COLLATE "C" NOT NULL,
	tag        TEXT COLLATE "C" NOT NULL CHECK (tag <> ''),
	digest     TEXT COLLATE "C" NOT NULL,
	updated_at BIGINT NOT NULL,
	PRIMARY KEY (repository, tag),
	FOREIGN KEY (repository, digest) REFERENCES ecr_images (repository, digest) ON DELETE CASCADE
);
CREATE INDEX ecr_tags_digest ON ecr_tags (repository, digest);

CREATE TABLE ecr_blob_links (
	repository TEXT COLLATE "C" NOT NULL REFERENCES ecr_repositories (name) ON DELETE CASCADE,
	digest     TEXT COLLATE "C" NOT NULL CHECK (digest <> ''),
	size       BIGINT NOT NULL CHECK (size >= 0),
	created_at BIGINT NOT NULL,
	PRIMARY KEY (repository, digest)
);
CREATE INDEX ecr_blob_links_digest ON ecr_blob_links (digest);
