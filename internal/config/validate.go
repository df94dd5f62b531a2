package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

type validator struct {
	name  string
	lines lines
	errs  errList
}

// bad records a problem with key, located at the key's line when the file
// set it (or at its enclosing section when it did not).
func (v *validator) bad(key, format string, args ...any) {
	msg := key + ": " + fmt.Sprintf(format, args...)
	v.errs.add(errors.New(where(v.name, v.lines.lineOf(key)) + msg))
}

// validate checks every setting and reports all problems together, so an
// operator fixes a file in one round rather than one error per restart.
func validate(f *File, name string, ls lines) error {
	v := &validator{name: name, lines: ls}
	v.listen(f.Listen)
	v.path("data_dir", f.DataDir)
	v.path("master_key_file", f.MasterKeyFile)
	switch f.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		v.bad("log_level", "%s is not one of debug, info, warn, error", quote(f.LogLevel))
	}
	v.issuerURL(f.Issuer.URL)
	switch f.Issuer.Algorithm {
	case AlgorithmRS256, AlgorithmES256:
	default:
		v.bad("issuer.algorithm", "%s is not supported (want RS256 or ES256)", quote(f.Issuer.Algorithm))
	}
	v.durations(&f.Issuer)
	v.subClaim(f.Issuer.SubClaimComponents)
	v.store(&f.Store)
	v.iam(f)
	if u := f.ECR.RegistryURL; u != "" {
		if pu, err := url.Parse(u); err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" ||
			(pu.Path != "" && pu.Path != "/") || pu.RawQuery != "" || pu.Fragment != "" || pu.User != nil {
			v.bad("ecr.registry_url", "%s is not http(s)://host[:port]", quote(u))
		}
	}
	if f.ECR.MaxBlobSize < 0 {
		v.bad("ecr.max_blob_size", "%d must not be negative (0 is the default, 10 GiB)", f.ECR.MaxBlobSize)
	}
	if f.Audit.Retention < 0 {
		v.bad("audit.retention", "%s must not be negative (use 0 to keep every event)", f.Audit.Retention)
	} else if r := f.Audit.Retention.Std(); r > 0 && r < time.Hour {
		v.bad("audit.retention", "%s is shorter than 1h", f.Audit.Retention)
	}
	return v.errs.err()
}

// store checks the backend's settings. A PostgreSQL URL names the server
// and database, never the password: the file holds no secrets (secrets are
// referenced by *_file paths), so a password in the URL is refused rather
// than silently used.
func (v *validator) store(s *Store) {
	switch s.Driver {
	case DriverSQLite:
		for key, val := range map[string]string{"store.url": s.URL, "store.password_file": s.PasswordFile} {
			if val != "" {
				v.bad(key, "is for driver postgres; sqlite keeps its database in data_dir")
			}
		}
	case DriverPostgres:
		if s.URL == "" {
			v.bad("store.url", "required with driver postgres (postgres://user@host:5432/database?sslmode=verify-full)")
			break
		}
		u, err := url.Parse(s.URL)
		switch {
		case err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "":
			v.bad("store.url", "is not a postgres://user@host:port/database URL")
		case u.User != nil && func() bool { _, ok := u.User.Password(); return ok }(), u.Query().Has("password"):
			v.bad("store.url", "must not contain a password: put it in store.password_file (or ~/.pgpass)")
		}
		if s.PasswordFile != "" {
			v.path("store.password_file", s.PasswordFile)
		}
	default:
		v.bad("store.driver", "%s is not supported (want sqlite or postgres)", quote(s.Driver))
	}
	if s.MaxConns < 0 || s.MaxConns > 1000 {
		v.bad("store.max_conns", "%d is not between 1 and 1000 (0: the default, 10)", s.MaxConns)
	}
}

func (v *validator) listen(s string) {
	const key = "listen"
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		v.bad(key, "%s is not host:port", quote(s))
		return
	}
	// Port 0 (pick any) is refused: the issuer URL names a fixed port, so a
	// random one could never match it.
	if p, err := strconv.ParseUint(port, 10, 16); err != nil || p == 0 {
		v.bad(key, "port %s is not a number from 1 to 65535", quote(port))
	}
	// An empty host means every interface, as with net.Listen.
	if host != "" {
		if _, err := netip.ParseAddr(host); err != nil && !isHostname(host) {
			v.bad(key, "host %s is neither an IP address nor a host name", quote(host))
		}
	}
}

// isHostname reports whether s is a syntactically valid DNS name.
func isHostname(s string) bool {
	if len(s) == 0 || len(s) > 253 {
		return false
	}
	for label := range strings.SplitSeq(strings.TrimSuffix(s, "."), ".") {
		if len(label) == 0 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// path checks a file-system path setting. Relative paths are allowed and are
// relative to the working directory, as for any command-line tool.
func (v *validator) path(key, s string) {
	switch {
	case s == "":
		v.bad(key, "must not be empty")
	case !utf8.ValidString(s):
		v.bad(key, "%s is not valid UTF-8", quote(s))
	case strings.ContainsFunc(s, unicode.IsControl):
		v.bad(key, "%s contains control characters", quote(s))
	}
}

// loopbackHosts may use plain http: tokens never leave the machine, and
// local development should not need a certificate.
var loopbackHosts = []string{"127.0.0.1", "::1", "localhost"}

// issuerURL enforces the OIDC rules for an issuer identifier (https, no
// query or fragment) plus canonical form: relying parties compare iss byte
// for byte with what they were configured with, and fetch discovery from
// URL + "/.well-known/openid-configuration", so anything that normalises
// differently (a trailing slash, "HTTPS:", dot segments) breaks them.
func (v *validator) issuerURL(s string) {
	const key = "issuer.url"
	if s == "" {
		v.bad(key, "required (the issuer's public https URL, e.g. https://ci.example.com/oidc)")
		return
	}
	u, err := url.Parse(s)
	if err != nil {
		v.bad(key, "%s is not a valid URL", quote(s))
		return
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !slices.Contains(loopbackHosts, u.Hostname()) {
			v.bad(key, "%s: http is allowed only for 127.0.0.1, ::1 and localhost; use https", quote(s))
			return
		}
	default:
		v.bad(key, "%s must be an https URL", quote(s))
		return
	}
	var problems []string
	if u.Opaque != "" || u.Host == "" {
		problems = append(problems, "has no host")
	}
	if strings.HasSuffix(u.Host, ":") {
		problems = append(problems, "has an empty port")
	}
	if u.User != nil {
		problems = append(problems, "must not contain user info")
	}
	if u.RawQuery != "" || u.ForceQuery {
		problems = append(problems, "must not contain a query")
	}
	if u.Fragment != "" || strings.Contains(s, "#") {
		problems = append(problems, "must not contain a fragment")
	}
	if strings.HasSuffix(u.Path, "/") {
		problems = append(problems, "must not end with a slash")
	}
	for seg := range strings.SplitSeq(u.Path, "/") {
		if seg == "." || seg == ".." {
			problems = append(problems, "must not contain . or .. path segments")
			break
		}
	}
	if strings.ToLower(u.Host) != u.Host {
		problems = append(problems, "host must be lower case")
	}
	if len(problems) == 0 && u.String() != s {
		problems = append(problems, fmt.Sprintf("must be written in canonical form %s", quote(u.String())))
	}
	if len(problems) > 0 {
		v.bad(key, "%s %s", quote(s), strings.Join(problems, ", "))
	}
}

func (v *validator) durations(is *Issuer) {
	ttl, maxLife := is.DefaultTokenTTL.Std(), is.MaxTokenLifetime.Std()
	maxAge, rot := is.JWKSMaxAge.Std(), is.RotationPeriod.Std()

	// JWT times are whole seconds; a shorter lifetime yields a token that
	// is already expired.
	if ttl < time.Second {
		v.bad("issuer.default_token_ttl", "%s must be at least 1s", is.DefaultTokenTTL)
	}
	if maxLife < time.Second {
		v.bad("issuer.max_token_lifetime", "%s must be at least 1s", is.MaxTokenLifetime)
	}
	if ttl >= time.Second && maxLife >= time.Second && ttl > maxLife {
		v.bad("issuer.default_token_ttl", "%s exceeds issuer.max_token_lifetime (%s)", is.DefaultTokenTTL, is.MaxTokenLifetime)
	}
	if maxAge < time.Minute {
		v.bad("issuer.jwks_max_age", "%s must be at least 1m", is.JWKSMaxAge)
	}
	// A new key must be published for at least one JWKS cache lifetime
	// before it signs, or verifiers holding a cached JWKS reject tokens;
	// rotating faster than the cache expires cannot satisfy that.
	switch {
	case rot < 0:
		v.bad("issuer.rotation_period", "%s must not be negative (use 0 to disable automatic rotation)", is.RotationPeriod)
	case rot > 0 && rot <= maxAge:
		v.bad("issuer.rotation_period", "%s must be longer than issuer.jwks_max_age (%s), or 0 to disable automatic rotation", is.RotationPeriod, is.JWKSMaxAge)
	}
}

var subClaimComponents = []string{ComponentProjectPath, ComponentRefType, ComponentRef}

// subClaim applies GitLab's rules for ci_id_token_sub_claim_components, so
// sub claims here mean what they mean there: project_path first (the sub
// must identify the project), known components only, no repeats.
func (v *validator) subClaim(c []string) {
	const key = "issuer.sub_claim_components"
	if len(c) == 0 {
		v.bad(key, "must not be empty (the default is [project_path, ref_type, ref])")
		return
	}
	seen := make(map[string]bool, len(c))
	for i, s := range c {
		ek := fmt.Sprintf("%s[%d]", key, i)
		switch {
		case !slices.Contains(subClaimComponents, s):
			v.bad(ek, "%s is not one of project_path, ref_type, ref", quote(s))
		case seen[s]:
			v.bad(ek, "%s is listed more than once", quote(s))
		case i == 0 && s != ComponentProjectPath:
			v.bad(ek, "the first component must be project_path, got %s", quote(s))
		}
		seen[s] = true
	}
}
