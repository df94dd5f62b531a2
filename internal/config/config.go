// Package config defines the file read by `oidcfed serve --config FILE`.
//
// The format is YAML and deliberately strict: every key must be known, every
// value must have the right type, and every problem is reported with the
// file, the line and the full key path. A configuration that silently ignores
// a misspelt key (say, "rotation_peroid") would leave an issuer running with
// settings its operator never chose, which is worse than refusing to start.
//
// There is no environment-variable expansion: secrets are referenced by
// *_file paths only, so the file itself never holds secret material and can be
// checked into configuration management.
package config

import (
	"fmt"
	"io"
	"os"
	"time"
)

// MaxFileSize bounds the configuration file. Real configurations are a few
// hundred bytes; the bound keeps a wrong --config path (a log file, a device)
// from being read and parsed in full.
const MaxFileSize = 1 << 20

// Values accepted by the enumerated settings.
const (
	AlgorithmRS256 = "RS256"
	AlgorithmES256 = "ES256"

	DriverSQLite   = "sqlite"
	DriverPostgres = "postgres"

	// Sub claim components, as in GitLab's ci_id_token_sub_claim_components.
	ComponentProjectPath = "project_path"
	ComponentRefType     = "ref_type"
	ComponentRef         = "ref"
)

// File is the whole configuration file. The YAML tags are the file's key
// names; the decoder walks them by reflection to reject unknown keys, so
// every field needs one.
type File struct {
	// Listen is the host:port the HTTP server binds.
	Listen string `yaml:"listen" json:"listen"`
	// DataDir holds the embedded store.
	DataDir string `yaml:"data_dir" json:"data_dir"`
	// MasterKeyFile names the file holding the key that seals signing keys
	// at rest. The key is referenced, never inlined.
	MasterKeyFile string `yaml:"master_key_file" json:"master_key_file"`
	// LogLevel is debug, info, warn or error; the same spellings
	// slog.Level.UnmarshalText accepts.
	LogLevel string `yaml:"log_level" json:"log_level"`
	Issuer   Issuer `yaml:"issuer" json:"issuer"`
	Store    Store  `yaml:"store" json:"store"`

	// AccountID is the 12-digit AWS account the IAM entities belong to.
	AccountID string `yaml:"account_id" json:"account_id"`
	// Region is the one region the AWS-compatible APIs serve.
	Region string `yaml:"region" json:"region"`
	// OIDCProviders are IAM OIDC identity providers declared in the file:
	// a read-only overlay over those created through the IAM API.
	OIDCProviders []OIDCProvider `yaml:"oidc_providers,omitempty" json:"oidc_providers,omitempty"`
	// Roles are IAM roles declared in the file (read-only overlay).
	Roles []Role `yaml:"roles,omitempty" json:"roles,omitempty"`
	// STS configures the temporary-credential service.
	STS STS `yaml:"sts" json:"sts"`
	// Audit configures the audit log.
	Audit Audit `yaml:"audit" json:"audit"`
	// IAM configures the IAM API beyond AWS.
	IAM IAM `yaml:"iam" json:"iam"`
	// ECR configures the ECR API and its registry.
	ECR ECR `yaml:"ecr" json:"ecr"`
}

// ECR configures the ECR API and its registry (the OCI distribution API at
// /v2/ on the server's listener).
type ECR struct {
	// RegistryURL is the registry's URL as clients reach it: the
	// proxyEndpoint GetAuthorizationToken answers, what docker login takes,
	// the host of every repositoryUri (e.g. https://registry.example.com
	// when a TLS front end serves the listener). Default: the issuer URL's
	// scheme and host (in dev mode, the listen address).
	RegistryURL string `yaml:"registry_url" json:"registry_url"`
	// MaxBlobSize bounds one pushed layer or config, in bytes (default 10
	// GiB).
	MaxBlobSize int `yaml:"max_blob_size" json:"max_blob_size"`
}

// Audit configures the audit log. Every call is recorded in the store
// before it is answered; these settings add a file sink and retention.
type Audit struct {
	// File, when set, also receives every event as a JSON Lines record,
	// synced before the call is answered ("-" is standard output).
	File string `yaml:"file" json:"file"`
	// Retention is how long events stay in the store (default 2160h, the
	// 90 days of CloudTrail's event history); 0 keeps them all. Pruning
	// keeps the rest of each chain verifiable. The file sink is never
	// pruned.
	Retention Duration `yaml:"retention" json:"retention"`
	// Disabled runs without an audit log: for measuring what it costs,
	// never for a server anyone relies on.
	Disabled bool `yaml:"disabled" json:"disabled"`
}

// IAM configures the IAM API beyond AWS.
type IAM struct {
	// LintOnWrite lints trust policies on CreateRole,
	// UpdateAssumeRolePolicy, PutRolePolicy and AttachRolePolicy: off (the
	// default, as AWS), warn (record findings in the audit event and the
	// log) or deny (refuse with MalformedPolicyDocument naming the finding).
	LintOnWrite string `yaml:"lint_on_write" json:"lint_on_write"`
	// LintFailOn is the least severity deny refuses (default high).
	LintFailOn string `yaml:"lint_fail_on" json:"lint_fail_on"`
}

// STS configures the temporary-credential service.
type STS struct {
	// SessionKeyGeneration selects the key session tokens are sealed
	// under (derived from the master key). Raising it by one rotates the
	// key without cutting live sessions: the previous generation still
	// opens tokens until they expire.
	SessionKeyGeneration int `yaml:"session_key_generation" json:"session_key_generation"`
	// EncodedAuthorizationMessages (beyond AWS's STS, IAM and KMS; off by
	// default) appends "Encoded authorization failure message: ..." to
	// AccessDenied answers of signed calls; sts decode-authorization-message
	// decodes it for a caller allowed sts:DecodeAuthorizationMessage.
	EncodedAuthorizationMessages bool `yaml:"encoded_authorization_messages" json:"encoded_authorization_messages"`
}

// OIDCProvider is an IAM OIDC identity provider (CreateOpenIDConnectProvider
// in file form).
type OIDCProvider struct {
	// URL is the issuer, compared byte for byte with a token's iss.
	URL string `yaml:"url" json:"url"`
	// ClientIDs are the accepted audiences (AWS's ClientIDList).
	ClientIDs []string `yaml:"client_ids,omitempty" json:"client_ids,omitempty"`
	// Thumbprints pin the issuer's TLS certificate chain (40 hex
	// characters each, at most 5), with AWS's semantics.
	Thumbprints []string `yaml:"thumbprints,omitempty" json:"thumbprints,omitempty"`
	// CABundleFile trusts a private CA for this issuer's discovery and
	// JWKS (air-gapped GitLab), in addition to the system roots.
	CABundleFile string `yaml:"ca_bundle_file,omitempty" json:"ca_bundle_file,omitempty"`
	// AllowInsecureHTTP permits an http:// URL on a loopback host. Off by
	// default; dev mode sets it for its own issuer.
	AllowInsecureHTTP bool `yaml:"allow_insecure_http,omitempty" json:"allow_insecure_http,omitempty"`
	// ClaimConditionKeys "all" exposes every token claim as a condition
	// key (<provider>:ref_protected, ...): beyond AWS, so opt-in. Empty
	// means AWS's keys only (aud, sub, amr, oaud).
	ClaimConditionKeys string `yaml:"claim_condition_keys,omitempty" json:"claim_condition_keys,omitempty"`
}

// Role is an IAM role declared in the file.
type Role struct {
	Name        string `yaml:"name" json:"name"`
	Path        string `yaml:"path" json:"path"`
	Description string `yaml:"description,omitempty" json:"description,omitempty"`
	// MaxSessionDuration is in seconds, 3600 to 43200, as in IAM.
	MaxSessionDuration int `yaml:"max_session_duration" json:"max_session_duration"`
	// TrustPolicy is the assume-role policy document (JSON).
	TrustPolicy string `yaml:"trust_policy" json:"trust_policy"`
	// InlinePolicies are permission policies embedded in the role.
	InlinePolicies []InlinePolicy `yaml:"inline_policies,omitempty" json:"inline_policies,omitempty"`
	// ManagedPolicyARNs are attached managed policies (at most 10).
	ManagedPolicyARNs []string `yaml:"managed_policy_arns,omitempty" json:"managed_policy_arns,omitempty"`
}

// InlinePolicy is one named inline policy document (JSON).
type InlinePolicy struct {
	Name     string `yaml:"name" json:"name"`
	Document string `yaml:"document" json:"document"`
}

// Issuer configures the token issuer.
type Issuer struct {
	// URL is the issuer identifier: the iss claim and the base of the
	// discovery document. Relying parties compare it byte for byte, hence
	// the canonical-form rules in validation.
	URL string `yaml:"url" json:"url"`
	// Algorithm is the signing algorithm of new keys: RS256 or ES256.
	Algorithm string `yaml:"algorithm" json:"algorithm"`
	// DefaultTokenTTL is the lifetime of a token whose request names none.
	DefaultTokenTTL Duration `yaml:"default_token_ttl" json:"default_token_ttl"`
	// MaxTokenLifetime caps any requested lifetime.
	MaxTokenLifetime Duration `yaml:"max_token_lifetime" json:"max_token_lifetime"`
	// JWKSMaxAge is the Cache-Control max-age served with the JWKS.
	JWKSMaxAge Duration `yaml:"jwks_max_age" json:"jwks_max_age"`
	// RotationPeriod is the interval of automatic key rotation; zero
	// disables automatic rotation.
	RotationPeriod Duration `yaml:"rotation_period" json:"rotation_period"`
	// SubClaimComponents lists, in order, what makes up the sub claim.
	SubClaimComponents []string `yaml:"sub_claim_components" json:"sub_claim_components"`
}

// Store selects the persistence backend: the embedded SQLite database in
// data_dir (the default), or a PostgreSQL database that several replicas
// share.
type Store struct {
	// Driver is sqlite or postgres.
	Driver string `yaml:"driver" json:"driver"`
	// URL is the PostgreSQL database (postgres://user@host:5432/db?
	// sslmode=verify-full); never with a password in it: that goes in
	// PasswordFile (or ~/.pgpass).
	URL string `yaml:"url" json:"url,omitempty"`
	// PasswordFile holds the database password, one line.
	PasswordFile string `yaml:"password_file" json:"password_file,omitempty"`
	// MaxConns caps each replica's connection pool (default 10).
	MaxConns int `yaml:"max_conns" json:"max_conns,omitempty"`
}

// Default returns the defaults every file is layered on. Issuer.URL is left
// empty because there is no sensible default: callers (dev mode) must set it
// before Validate passes.
func Default() *File {
	return &File{
		Listen:        "127.0.0.1:8080",
		DataDir:       "/var/lib/oidcfed",
		MasterKeyFile: "/etc/oidcfed/master.key",
		LogLevel:      "info",
		Issuer: Issuer{
			Algorithm:        AlgorithmRS256,
			DefaultTokenTTL:  Duration(5 * time.Minute),
			MaxTokenLifetime: Duration(2 * time.Hour),
			JWKSMaxAge:       Duration(time.Hour),
			RotationPeriod:   Duration(720 * time.Hour),
			SubClaimComponents: []string{
				ComponentProjectPath, ComponentRefType, ComponentRef,
			},
		},
		Store:     Store{Driver: DriverSQLite},
		AccountID: DefaultAccountID,
		Region:    DefaultRegion,
		STS:       STS{SessionKeyGeneration: 1},
		Audit:     Audit{Retention: Duration(90 * 24 * time.Hour)},
	}
}

// Defaults of the AWS-compatible side, as moto and LocalStack use them.
const (
	DefaultAccountID = "000000000000"
	DefaultRegion    = "us-east-1"
)

// Load reads, decodes and validates the file at path. The result is fully
// defaulted and valid; errors name path and, where known, the line.
func Load(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	defer fh.Close()
	// Read one byte past the limit so an oversized file is detected without
	// reading all of it (it might be a device that never ends).
	data, err := io.ReadAll(io.LimitReader(fh, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	if len(data) > MaxFileSize {
		return nil, tooLarge(path)
	}
	return Parse(path, data)
}

// Parse decodes data, layers it over Default and validates the result. name
// is used only in error messages (normally the file's path).
//
// Keys absent from data keep their defaults; keys present override them, so
// an explicit "rotation_period: 0" means "disabled" rather than "default".
// That is why there is no separate ApplyDefaults step: after decoding, a zero
// value can no longer be told apart from an omitted one.
func Parse(name string, data []byte) (*File, error) {
	if len(data) > MaxFileSize {
		return nil, tooLarge(name)
	}
	f := Default()
	lines, err := decode(name, data, f)
	if err != nil {
		return nil, err
	}
	if err := validate(f, name, lines); err != nil {
		return nil, err
	}
	return f, nil
}

func tooLarge(name string) error {
	return fmt.Errorf("%s: file is larger than the %d KiB limit", name, MaxFileSize/1024)
}

// Validate checks f, reporting every problem at once. Parse and Load already
// call it; it is exported for configurations built in code (dev mode).
func (f *File) Validate() error {
	return validate(f, "", nil)
}
