package ecr

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/url"
	"strconv"
	"time"
)

// Download URLs: GetDownloadUrlForLayer answers with a URL anyone holding
// it may fetch the layer from, for a while, without credentials (ECR's
// are presigned S3 URLs). Ours point at the registry's blob endpoint with
// an expiry and an HMAC over repository, digest and expiry, under a key
// derived from the master key.

// DownloadKeyInfo names the derived key that signs download URLs.
const DownloadKeyInfo = "oidcfed ecr download url v1"

// DownloadURLLifetime is how long a download URL works (unconfirmed for
// ECR, whose URLs are S3's; an hour is the common presigned lifetime).
const DownloadURLLifetime = time.Hour

// Query parameters of a download URL.
const (
	DownloadExpiresParam   = "X-Oidcfed-Expires"
	DownloadSignatureParam = "X-Oidcfed-Signature"
)

// ErrDownloadURL: a download URL's signature is wrong or it expired.
var ErrDownloadURL = errors.New("download URL invalid or expired")

// DownloadURLs signs and checks download URLs.
type DownloadURLs struct {
	key  []byte
	base string // the registry's URL, no trailing slash
}

// NewDownloadURLs signs with key (derived with DownloadKeyInfo) URLs on
// the registry at base.
func NewDownloadURLs(key []byte, base string) *DownloadURLs {
	return &DownloadURLs{key: key, base: base}
}

func (d *DownloadURLs) mac(repo, digest string, expires int64) string {
	m := hmac.New(sha256.New, d.key)
	m.Write([]byte(repo + "\n" + digest + "\n" + strconv.FormatInt(expires, 10)))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// URL is a download URL for repo's blob digest, valid until now +
// DownloadURLLifetime.
func (d *DownloadURLs) URL(repo, digest string, now time.Time) string {
	exp := now.Add(DownloadURLLifetime).Unix()
	q := url.Values{DownloadExpiresParam: {strconv.FormatInt(exp, 10)}, DownloadSignatureParam: {d.mac(repo, digest, exp)}}
	return d.base + "/v2/" + repo + "/blobs/" + digest + "?" + q.Encode()
}

// Check verifies a download URL's query for repo's blob digest.
func (d *DownloadURLs) Check(repo, digest string, q url.Values, now time.Time) error {
	exp, err := strconv.ParseInt(q.Get(DownloadExpiresParam), 10, 64)
	if err != nil || !hmac.Equal([]byte(q.Get(DownloadSignatureParam)), []byte(d.mac(repo, digest, exp))) || now.Unix() >= exp {
		return ErrDownloadURL
	}
	return nil
}
