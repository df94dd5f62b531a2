package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/oidcfed/oidcfed/internal/store"
)

// ECR repositories, images, tags and blob links.

func (t *txn) CreateECRRepository(ctx context.Context, r *store.ECRRepository) error {
	op := "create ECR repository " + r.Name
	if err := t.writable(op); err != nil {
		return err
	}
	switch {
	case r.Name == "":
		return fmt.Errorf("%s: name must be set", op)
	case !json.Valid(r.Body):
		return fmt.Errorf("%s: body is not JSON", op)
	}
	_, err := t.write(ctx, op, "INSERT INTO ecr_repositories (name, body) VALUES ($1, $2)", r.Name, r.Body)
	return err
}

func (t *txn) GetECRRepository(ctx context.Context, name string) (store.ECRRepository, error) {
	op := "get ECR repository " + name
	r := store.ECRRepository{Name: name}
	err := t.tx.QueryRow(ctx, "SELECT body FROM ecr_repositories WHERE name = $1", name).Scan(&r.Body)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.ECRRepository{}, fmt.Errorf("%s: %w", op, store.ErrNotFound)
	}
	if err != nil {
		return store.ECRRepository{}, wrapErr(op, err)
	}
	return r, nil
}

func (t *txn) UpdateECRRepository(ctx context.Context, name string, body []byte) error {
	op := "update ECR repository " + name
	if err := t.writable(op); err != nil {
		return err
	}
	if !json.Valid(body) {
		return fmt.Errorf("%s: body is not JSON", op)
	}
	tag, err := t.write(ctx, op, "UPDATE ecr_repositories SET body = $1 WHERE name = $2", body, name)
	return oneRow(op, "no such repository", tag, err)
}

func (t *txn) ListECRRepositories(ctx context.Context) ([]store.ECRRepository, error) {
	const op = "list ECR repositories"
	rows, err := t.tx.Query(ctx, "SELECT name, body FROM ecr_repositories ORDER BY name")
	if err != nil {
		return nil, wrapErr(op, err)
	}
	defer rows.Close()
	var out []store.ECRRepository
	for rows.Next() {
		var r store.ECRRepository
		if err := rows.Scan(&r.Name, &r.Body); err != nil {
			return nil, wrapErr(op, err)
		}
		out = append(out, r)
	}
	return out, wrapErr(op, rows.Err())
}

func (t *txn) DeleteECRRepository(ctx context.Context, name string) error {
	op := "delete ECR repository " + name
	if err := t.writable(op); err != nil {
		return err
	}
	// Tags go first: their foreign key is on the images, which cascade
	// from the repository.
	if _, err := t.write(ctx, op, "DELETE FROM ecr_tags WHERE repository = $1", name); err != nil {
		return err
	}
	tag, err := t.write(ctx, op, "DELETE FROM ecr_repositories WHERE name = $1", name)
	return oneRow(op, "no such repository", tag, err)
}

func (t *txn) ecrRepositoryExists(ctx context.Context, op, name string) error {
	var one int
	err := t.tx.QueryRow(ctx, "SELECT 1 FROM ecr_repositories WHERE name = $1", name).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%s: no repository %s: %w", op, name, store.ErrNotFound)
	}
	return wrapErr(op, err)
}

func (t *txn) LinkECRBlob(ctx context.Context, l *store.ECRBlobLink) error {
	op := "link ECR blob " + l.Digest + " to " + l.Repository
	if err := t.writable(op); err != nil {
		return err
	}
	if l.Digest == "" || l.Size < 0 {
		return fmt.Errorf("%s: digest and size must be set", op)
	}
	created, err := toNanos("CreatedAt", l.CreatedAt)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if err := t.ecrRepositoryExists(ctx, op, l.Repository); err != nil {
		return err
	}
	_, err = t.write(ctx, op, "INSERT INTO ecr_blob_links (repository, digest, size, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
		l.Repository, l.Digest, l.Size, created)
	return err
}

func (t *txn) GetECRBlobLink(ctx context.Context, repository, digest string) (store.ECRBlobLink, error) {
	op := "get ECR blob link " + digest + " in " + repository
	l := store.ECRBlobLink{Repository: repository, Digest: digest}
	var created int64
	err := t.tx.QueryRow(ctx, "SELECT size, created_at FROM ecr_blob_links WHERE repository = $1 AND digest = $2", repository, digest).
		Scan(&l.Size, &created)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.ECRBlobLink{}, fmt.Errorf("%s: %w", op, store.ErrNotFound)
	}
	if err != nil {
		return store.ECRBlobLink{}, wrapErr(op, err)
	}
	l.CreatedAt = time.Unix(0, created).UTC()
	return l, nil
}

func (t *txn) ListECRBlobLinks(ctx context.Context, repository string) ([]store.ECRBlobLink, error) {
	op := "list ECR blob links of " + repository
	rows, err := t.tx.Query(ctx, "SELECT digest, size, created_at FROM ecr_blob_links WHERE repository = $1 ORDER BY digest", repository)
	if err != nil {
		return nil, wrapErr(op, err)
	}
	defer rows.Close()
	var out []store.ECRBlobLink
	for rows.Next() {
		l := store.ECRBlobLink{Repository: repository}
		var created int64
		if err := rows.Scan(&l.Digest, &l.Size, &created); err != nil {
			return nil, wrapErr(op, err)
		}
		l.CreatedAt = time.Unix(0, created).UTC()
		out = append(out, l)
	}
	return out, wrapErr(op, rows.Err())
}

func (t *txn) ECRBlobLinked(ctx context.Context, digest string) (bool, error) {
	var one int
	err := t.tx.QueryRow(ctx, "SELECT 1 FROM ecr_blob_links WHERE digest = $1 LIMIT 1", digest).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	return err == nil, wrapErr("find ECR blob links of "+digest, err)
}

func (t *txn) PutECRImage(ctx context.Context, img *store.ECRImage) error {
	op := "put ECR image " + img.Digest + " in " + img.Repository
	if err := t.writable(op); err != nil {
		return err
	}
	if img.Digest == "" || len(img.Manifest) == 0 || img.Size < 0 {
		return fmt.Errorf("%s: digest, manifest and size must be set", op)
	}
	pushed, err := toNanos("PushedAt", img.PushedAt)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	children := img.Children
	if children == nil {
		children = []string{}
	}
	kids, err := json.Marshal(children)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if err := t.ecrRepositoryExists(ctx, op, img.Repository); err != nil {
		return err
	}
	_, err = t.write(ctx, op, `INSERT INTO ecr_images (repository, digest, media_type, artifact_type, manifest, size, subject, children, pushed_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING`,
		img.Repository, img.Digest, img.MediaType, img.ArtifactType, img.Manifest, img.Size, img.Subject, string(kids), pushed)
	return err
}

const ecrImageColumns = "digest, media_type, artifact_type, size, subject, children, pushed_at"

func scanECRImage(scan func(...any) error, img *store.ECRImage, extra ...any) error {
	var kids string
	var pushed int64
	if err := scan(append([]any{&img.Digest, &img.MediaType, &img.ArtifactType, &img.Size, &img.Subject, &kids, &pushed}, extra...)...); err != nil {
		return err
	}
	if err := json.Unmarshal([]byte(kids), &img.Children); err != nil {
		return err
	}
	if len(img.Children) == 0 {
		img.Children = nil
	}
	img.PushedAt = time.Unix(0, pushed).UTC()
	return nil
}

func (t *txn) GetECRImage(ctx context.Context, repository, digest string) (store.ECRImage, error) {
	op := "get ECR image " + digest + " in " + repository
	img := store.ECRImage{Repository: repository}
	err := scanECRImage(t.tx.QueryRow(ctx, "SELECT "+ecrImageColumns+", manifest FROM ecr_images WHERE repository = $1 AND digest = $2",
		repository, digest).Scan, &img, &img.Manifest)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.ECRImage{}, fmt.Errorf("%s: %w", op, store.ErrNotFound)
	}
	if err != nil {
		return store.ECRImage{}, wrapErr(op, err)
	}
	return img, nil
}

func (t *txn) ListECRImages(ctx context.Context, repository string) ([]store.ECRImage, error) {
	op := "list ECR images in " + repository
	rows, err := t.tx.Query(ctx, "SELECT "+ecrImageColumns+" FROM ecr_images WHERE repository = $1 ORDER BY digest", repository)
	if err != nil {
		return nil, wrapErr(op, err)
	}
	defer rows.Close()
	var out []store.ECRImage
	for rows.Next() {
		img := store.ECRImage{Repository: repository}
		if err := scanECRImage(rows.Scan, &img); err != nil {
			return nil, wrapErr(op, err)
		}
		out = append(out, img)
	}
	return out, wrapErr(op, rows.Err())
}

func (t *txn) DeleteECRImage(ctx context.Context, repository, digest string) error {
	op := "delete ECR image " + digest + " in " + repository
	if err := t.writable(op); err != nil {
		return err
	}
	if _, err := t.write(ctx, op, "DELETE FROM ecr_tags WHERE repository = $1 AND digest = $2", repository, digest); err != nil {
		return err
	}
	tag, err := t.write(ctx, op, "DELETE FROM ecr_images WHERE repository = $1 AND digest = $2", repository, digest)
	return oneRow(op, "no such image", tag, err)
}

func (t *txn) TagECRImage(ctx context.Context, tag *store.ECRTag) error {
	op := "tag ECR image " + tag.Digest + " in " + tag.Repository
	if err := t.writable(op); err != nil {
		return err
	}
	if tag.Tag == "" {
		return fmt.Errorf("%s: tag must be set", op)
	}
	updated, err := toNanos("UpdatedAt", tag.UpdatedAt)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	var one int
	err = t.tx.QueryRow(ctx, "SELECT 1 FROM ecr_images WHERE repository = $1 AND digest = $2", tag.Repository, tag.Digest).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%s: no such image: %w", op, store.ErrNotFound)
	}
	if err != nil {
		return wrapErr(op, err)
	}
	_, err = t.write(ctx, op, `INSERT INTO ecr_tags (repository, tag, digest, updated_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (repository, tag) DO UPDATE SET digest = excluded.digest, updated_at = excluded.updated_at`,
		tag.Repository, tag.Tag, tag.Digest, updated)
	return err
}

func (t *txn) GetECRTag(ctx context.Context, repository, tag string) (store.ECRTag, error) {
	op := "get ECR tag in " + repository
	out := store.ECRTag{Repository: repository, Tag: tag}
	var updated int64
	err := t.tx.QueryRow(ctx, "SELECT digest, updated_at FROM ecr_tags WHERE repository = $1 AND tag = $2", repository, tag).
		Scan(&out.Digest, &updated)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.ECRTag{}, fmt.Errorf("%s: %w", op, store.ErrNotFound)
	}
	if err != nil {
		return store.ECRTag{}, wrapErr(op, err)
	}
	out.UpdatedAt = time.Unix(0, updated).UTC()
	return out, nil
}

func (t *txn) UntagECRImage(ctx context.Context, repository, tag string) error {
	op := "untag ECR image in " + repository
	if err := t.writable(op); err != nil {
		return err
	}
	res, err := t.write(ctx, op, "DELETE FROM ecr_tags WHERE repository = $1 AND tag = $2", repository, tag)
	return oneRow(op, "no such tag", res, err)
}

func (t *txn) ListECRTags(ctx context.Context, repository string) ([]store.ECRTag, error) {
	op := "list ECR tags in " + repository
	// COLLATE "C": bytewise, the order the OCI distribution API
	// pages tags in.
	rows, err := t.tx.Query(ctx, "SELECT tag, digest, updated_at FROM ecr_tags WHERE repository = $1 ORDER BY tag", repository)
	if err != nil {
		return nil, wrapErr(op, err)
	}
	defer rows.Close()
	var out []store.ECRTag
	for rows.Next() {
		tg := store.ECRTag{Repository: repository}
		var updated int64
		if err := rows.Scan(&tg.Tag, &tg.Digest, &updated); err != nil {
			return nil, wrapErr(op, err)
		}
		tg.UpdatedAt = time.Unix(0, updated).UTC()
		out = append(out, tg)
	}
	return out, wrapErr(op, rows.Err())
}
