package config

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

const fullConfig = `listen: 127.0.0.1:9090
data_dir: /srv/oidcfed
master_key_file: /etc/oidcfed/master.key
log_level: debug
issuer:
  url: https://ci.example.com/oidc
  algorithm: ES256
  default_token_ttl: 10m
  max_token_lifetime: 1h
  jwks_max_age: 30m
  rotation_period: 0
  sub_claim_components: [project_path, ref]
store:
  driver: sqlite
account_id: "123456789012"
region: eu-west-1
oidc_providers:
  - url: https://gitlab.example.com
    client_ids: [https://gitlab.example.com, sts.amazonaws.com]
    thumbprints: [9e99a48a9960b14926bb7f3b02e22da2b0ab7280]
    ca_bundle_file: /etc/oidcfed/gitlab-ca.pem
    claim_condition_keys: all
  - url: http://127.0.0.1:8080
    client_ids: [http://127.0.0.1:8080]
    allow_insecure_http: true
roles:
  - name: gitlab-deploy
    path: /ci/
    description: deploys main
    max_session_duration: 7200
    trust_policy: '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::123456789012:oidc-provider/gitlab.example.com"},"Action":"sts:AssumeRoleWithWebIdentity"}]}'
    inline_policies:
      - name: kms-verify
        document: '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:Verify","Resource":"*"}]}'
    managed_policy_arns: [arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly]
audit:
  file: /var/log/oidcfed/audit.jsonl
  retention: 720h
`

func TestParseFull(t *testing.T) {
	f, err := Parse("oidcfed.yaml", []byte(fullConfig))
	if err != nil {
		t.Fatal(err)
	}
	want := &File{
		Listen:        "127.0.0.1:9090",
		DataDir:       "/srv/oidcfed",
		MasterKeyFile: "/etc/oidcfed/master.key",
		LogLevel:      "debug",
		Issuer: Issuer{
			URL:                "https://ci.example.com/oidc",
			Algorithm:          "ES256",
			DefaultTokenTTL:    Duration(10 * time.Minute),
			MaxTokenLifetime:   Duration(time.Hour),
			JWKSMaxAge:         Duration(30 * time.Minute),
			RotationPeriod:     0, // explicit 0 must not fall back to the default
			SubClaimComponents: []string{"project_path", "ref"},
		},
		Store:     Store{Driver: "sqlite"},
		STS:       STS{SessionKeyGeneration: 1},
		Audit:     Audit{File: "/var/log/oidcfed/audit.jsonl", Retention: Duration(720 * time.Hour)},
		AccountID: "123456789012",
		Region:    "eu-west-1",
		OIDCProviders: []OIDCProvider{
			{URL: "https://gitlab.example.com", ClientIDs: []string{"https://gitlab.example.com", "sts.amazonaws.com"},
				Thumbprints: []string{"9e99a48a9960b14926bb7f3b02e22da2b0ab7280"}, CABundleFile: "/etc/oidcfed/gitlab-ca.pem", ClaimConditionKeys: "all"},
			{URL: "http://127.0.0.1:8080", ClientIDs: []string{"http://127.0.0.1:8080"}, AllowInsecureHTTP: true},
		},
		Roles: []Role{{
			Name: "gitlab-deploy", Path: "/ci/", Description: "deploys main", MaxSessionDuration: 7200,
			TrustPolicy:       `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::123456789012:oidc-provider/gitlab.example.com"},"Action":"sts:AssumeRoleWithWebIdentity"}]}`,
			InlinePolicies:    []InlinePolicy{{Name: "kms-verify", Document: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:Verify","Resource":"*"}]}`}},
			ManagedPolicyARNs: []string{"arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryReadOnly"},
		}},
	}
	if !reflect.DeepEqual(f, want) {
		t.Errorf("Parse:\n got %+v\nwant %+v", f, want)
	}
}

func TestParseMinimalGetsDefaults(t *testing.T) {
	f, err := Parse("oidcfed.yaml", []byte("issuer:\n  url: https://ci.example.com\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.Issuer.URL = "https://ci.example.com"
	if !reflect.DeepEqual(f, want) {
		t.Errorf("got %+v\nwant %+v", f, want)
	}
	if got := f.Issuer.RotationPeriod.Std(); got != 720*time.Hour {
		t.Errorf("rotation_period default = %v", got)
	}
}

func TestParseEmptySections(t *testing.T) {
	// A section whose children are all commented out is empty, not an error.
	f, err := Parse("oidcfed.yaml", []byte("store:\n  # driver: sqlite\nissuer:\n  url: http://localhost:8080\n"))
	if err != nil {
		t.Fatal(err)
	}
	if f.Store.Driver != "sqlite" {
		t.Errorf("store.driver = %q", f.Store.Driver)
	}
}

func TestParsePostgresStore(t *testing.T) {
	f, err := Parse("oidcfed.yaml", []byte(`issuer:
  url: https://ci.example.com
store:
  driver: postgres
  url: postgres://oidcfed@db.internal:5432/oidcfed?sslmode=verify-full
  password_file: /etc/oidcfed/db.password
  max_conns: 20
`))
	if err != nil {
		t.Fatal(err)
	}
	want := Store{Driver: DriverPostgres, URL: "postgres://oidcfed@db.internal:5432/oidcfed?sslmode=verify-full",
		PasswordFile: "/etc/oidcfed/db.password", MaxConns: 20}
	if f.Store != want {
		t.Errorf("store = %+v, want %+v", f.Store, want)
	}
}

func TestDefault(t *testing.T) {
	// Default has no issuer URL, and says so; with one it validates.
	err := Default().Validate()
	if err == nil || !strings.Contains(err.Error(), "issuer.url: required") {
		t.Fatalf("Default().Validate() = %v, want issuer.url required", err)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("Default() has more problems than the missing URL: %v", err)
	}
	d := Default()
	d.Issuer.URL = "http://127.0.0.1:8080"
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	// Built in code, a config has no file or lines, only key paths.
	bad := *d
	bad.DataDir = "/d\xff"
	if err := bad.Validate(); err == nil || err.Error() != `data_dir: "/d\xff" is not valid UTF-8` {
		t.Errorf("Validate() = %v", err)
	}
	// Default must hand out fresh values: dev mode mutates its copy.
	d.Issuer.SubClaimComponents[0] = "ref"
	if Default().Issuer.SubClaimComponents[0] != "project_path" {
		t.Error("Default shares its slice between calls")
	}
}

func TestEmptyFileNeedsOnlyURL(t *testing.T) {
	for _, in := range []string{"", "# nothing here\n", "---\n", "\n\n"} {
		_, err := Parse("oidcfed.yaml", []byte(in))
		if err == nil || err.Error() != "oidcfed.yaml: issuer.url: required (the issuer's public https URL, e.g. https://ci.example.com/oidc)" {
			t.Errorf("Parse(%q) = %v, want only the missing issuer.url", in, err)
		}
	}
}

// TestParseErrors has one case per class of error. Each wants substrings of
// the message: at least the "file:line:" location and the key path.
func TestParseErrors(t *testing.T) {
	const url = "issuer:\n  url: https://ci.example.com\n"
	tests := []struct {
		name string
		in   string
		want []string
	}{
		// Strictness: unknown keys, with the full path.
		{"unknown top-level key", "lisen: 127.0.0.1:8080\n" + url,
			[]string{`oidcfed.yaml:1: unknown key "lisen"`}},
		{"unknown nested key", "listen: 127.0.0.1:8080\ndata_dir: /d\nmaster_key_file: /k\nlog_level: info\nissuer:\n  url: https://ci.example.com\n  algoritm: RS256\n",
			[]string{`oidcfed.yaml:7: unknown key "issuer.algoritm"`}},
		{"unknown key in store", url + "store:\n  drivr: sqlite\n",
			[]string{`oidcfed.yaml:4: unknown key "store.drivr"`}},
		{"all unknown keys reported", "a: 1\nissuer:\n  b: 2\n  url: https://x.example\nc: 3\n",
			[]string{`oidcfed.yaml:1: unknown key "a"`, `oidcfed.yaml:3: unknown key "issuer.b"`, `oidcfed.yaml:5: unknown key "c"`}},
		{"merge key", "issuer:\n  <<: {url: https://x.example}\n",
			[]string{`oidcfed.yaml:2: unknown key "issuer.<<"`}},
		{"non-string key", "issuer:\n  [a]: 1\n",
			[]string{`oidcfed.yaml:2: issuer: keys must be strings, got a list`}},

		// Wrong types.
		{"bad duration", "issuer:\n  url: https://ci.example.com\n  default_token_ttl: 5 minutes\n",
			[]string{`oidcfed.yaml:3: issuer.default_token_ttl: "5 minutes" is not a duration`}},
		{"duration as bool", url + "  jwks_max_age: true\n",
			[]string{`oidcfed.yaml:3: issuer.jwks_max_age: expected a duration such as "5m", got boolean "true"`}},
		{"duration as mapping", url + "  rotation_period: {h: 1}\n",
			[]string{`oidcfed.yaml:3: issuer.rotation_period: expected a duration`, "got a mapping"}},
		{"huge duration", url + "  max_token_lifetime: 99999999999999999999h\n",
			[]string{`oidcfed.yaml:3: issuer.max_token_lifetime: "99999999999999999999h" is not a duration`}},
		{"int for string", "listen: 8080\n" + url,
			[]string{`oidcfed.yaml:1: listen: expected a string, got integer "8080" (quote it`}},
		{"bool for string", url + "  algorithm: true\n",
			[]string{`oidcfed.yaml:3: issuer.algorithm: expected a string, got boolean "true"`}},
		{"binary for string", "data_dir: !!binary aGVsbG8=\n" + url,
			[]string{`oidcfed.yaml:1: data_dir: expected a string, got "!!binary" value`}},
		{"list for string", "log_level: [info]\n" + url,
			[]string{`oidcfed.yaml:1: log_level: expected a string, got a list`}},
		{"scalar for section", "issuer: https://ci.example.com\n",
			[]string{`oidcfed.yaml:1: issuer: expected a mapping of keys, got string "https://ci.example.com"`}},
		{"scalar for list", url + "  sub_claim_components: project_path\n",
			[]string{`oidcfed.yaml:3: issuer.sub_claim_components: expected a list, got string "project_path"`}},
		{"bad list element", url + "  sub_claim_components:\n    - project_path\n    - {ref: 1}\n",
			[]string{`oidcfed.yaml:5: issuer.sub_claim_components[1]: expected a string, got a mapping`}},
		{"null scalar", "listen:\n" + url,
			[]string{`oidcfed.yaml:1: listen: missing value`}},
		{"null duration", url + "  rotation_period: ~\n",
			[]string{`oidcfed.yaml:3: issuer.rotation_period: missing value`}},
		{"null list element", url + "  sub_claim_components: [project_path, ~]\n",
			[]string{`oidcfed.yaml:3: issuer.sub_claim_components[1]: missing value`}},
		{"top level not a mapping", "- listen\n",
			[]string{`oidcfed.yaml:1: the top level must be a mapping of keys, got a list`}},
		{"custom tag on section", "issuer: !foo {url: https://ci.example.com}\n",
			[]string{`oidcfed.yaml:1: issuer: expected a mapping of keys, got a mapping tagged "!foo"`}},
		{"custom tag on list", url + "  sub_claim_components: !set [project_path]\n",
			[]string{`oidcfed.yaml:3: issuer.sub_claim_components: expected a list, got a list tagged "!set"`}},
		{"top level scalar", "hello\n",
			[]string{`oidcfed.yaml:1: the top level must be a mapping of keys, got string "hello"`}},

		// Structure.
		{"duplicate key", "listen: 127.0.0.1:8080\nlisten: 127.0.0.1:9090\n" + url,
			[]string{`oidcfed.yaml:2: duplicate key "listen" (first defined on line 1)`}},
		{"duplicate nested key", url + "  url: https://other.example\n",
			[]string{`oidcfed.yaml:3: duplicate key "issuer.url" (first defined on line 2)`}},
		{"duplicate section", url + "issuer:\n  algorithm: ES256\n",
			[]string{`oidcfed.yaml:3: duplicate key "issuer" (first defined on line 1)`}},
		{"multiple documents", url + "---\nlisten: 127.0.0.1:9090\n",
			[]string{`oidcfed.yaml:3: multiple YAML documents`}},
		{"anchor", "issuer:\n  url: &u https://ci.example.com\n",
			[]string{`oidcfed.yaml:2: issuer.url: anchors (&u) are not supported`}},
		{"alias", url + "  algorithm: &a RS256\nstore:\n  driver: *a\n",
			[]string{`oidcfed.yaml:3: issuer.algorithm: anchors (&a) are not supported`, `oidcfed.yaml:5: store.driver: aliases (*a) are not supported`}},
		{"anchored section", "issuer: &i\n  url: https://ci.example.com\n",
			[]string{`oidcfed.yaml:1: issuer: anchors (&i) are not supported`}},
		{"tab indentation", "issuer:\n\turl: https://ci.example.com\n",
			[]string{`oidcfed.yaml:2: invalid YAML:`, "tabs are not allowed"}},
		// yaml.v3's own line numbers are corrected (see syntaxError).
		{"unclosed flow list", "listen: 127.0.0.1:8080\nissuer:\n  url: [https://ci.example.com\n",
			[]string{`oidcfed.yaml:3: invalid YAML: did not find expected ',' or ']'`}},
		{"list item in mapping", url + "- ref\n",
			[]string{`oidcfed.yaml:3: invalid YAML: did not find expected key`}},
		{"bad dedent", "issuer:\n  url: https://ci.example.com\n algorithm: RS256\n",
			[]string{`oidcfed.yaml:3: invalid YAML: did not find expected key`}},
		{"scanner error", url + "  algorithm: @RS256\n",
			[]string{`oidcfed.yaml:3: invalid YAML: found character that cannot start any token`}},
		{"error on line 1", "listen: @x\n",
			[]string{`oidcfed.yaml:1: invalid YAML: found character that cannot start any token`}},
		{"syntax error in second document", url + "---\n[\n",
			[]string{`oidcfed.yaml:5: invalid YAML: did not find expected node content`}}, // at EOF
		{"non-UTF-8", url + "  algorithm: RS256\nlisten: \xff\xfe\xfd\n",
			[]string{`oidcfed.yaml:4: invalid YAML: invalid leading UTF-8 octet`}},
		{"control character", "\n\nlisten: \x01\n",
			[]string{`oidcfed.yaml:3: invalid YAML: control characters are not allowed`}},

		// Validation, at the key's line.
		{"missing issuer url", "issuer:\n  algorithm: RS256\n",
			[]string{`oidcfed.yaml:1: issuer.url: required`}},
		{"http issuer", "issuer:\n  url: http://ci.example.com\n",
			[]string{`oidcfed.yaml:2: issuer.url:`, "http is allowed only for 127.0.0.1, ::1 and localhost"}},
		{"ftp issuer", "issuer:\n  url: ftp://ci.example.com\n",
			[]string{`oidcfed.yaml:2: issuer.url:`, "must be an https URL"}},
		{"issuer query", "issuer:\n  url: https://ci.example.com/oidc?x=1\n",
			[]string{`oidcfed.yaml:2: issuer.url:`, "must not contain a query"}},
		{"issuer empty query", "issuer:\n  url: https://ci.example.com/oidc?\n",
			[]string{`oidcfed.yaml:2: issuer.url:`, "must not contain a query"}},
		{"issuer fragment", "issuer:\n  url: 'https://ci.example.com/oidc#'\n",
			[]string{`oidcfed.yaml:2: issuer.url:`, "must not contain a fragment"}},
		{"issuer userinfo", "issuer:\n  url: https://u:p@ci.example.com/oidc\n",
			[]string{`oidcfed.yaml:2: issuer.url:`, "must not contain user info"}},
		{"issuer trailing slash", "issuer:\n  url: https://ci.example.com/oidc/\n",
			[]string{`oidcfed.yaml:2: issuer.url:`, "must not end with a slash"}},
		{"issuer bare slash", "issuer:\n  url: https://ci.example.com/\n",
			[]string{`oidcfed.yaml:2: issuer.url:`, "must not end with a slash"}},
		{"issuer no host", "issuer:\n  url: https:///oidc\n",
			[]string{`oidcfed.yaml:2: issuer.url:`, "has no host"}},
		{"issuer upper-case host", "issuer:\n  url: https://CI.example.com\n",
			[]string{`oidcfed.yaml:2: issuer.url:`, "host must be lower case"}},
		{"issuer dot segment", "issuer:\n  url: https://ci.example.com/a/../oidc\n",
			[]string{`oidcfed.yaml:2: issuer.url:`, ". or .. path segments"}},
		{"issuer not canonical", "issuer:\n  url: HTTPS://ci.example.com\n",
			[]string{`oidcfed.yaml:2: issuer.url:`, `canonical form "https://ci.example.com"`}},
		{"issuer not a URL", "issuer:\n  url: 'https://ci.example.com:port'\n",
			[]string{`oidcfed.yaml:2: issuer.url:`, "is not a valid URL"}},
		{"bad algorithm", url + "  algorithm: HS256\n",
			[]string{`oidcfed.yaml:3: issuer.algorithm: "HS256" is not supported`}},
		{"ttl above max", url + "  default_token_ttl: 3h\n",
			[]string{`oidcfed.yaml:3: issuer.default_token_ttl: 3h exceeds issuer.max_token_lifetime (2h)`}},
		{"zero ttl", url + "  default_token_ttl: 0s\n",
			[]string{`oidcfed.yaml:3: issuer.default_token_ttl: 0s must be at least 1s`}},
		{"negative max", url + "  max_token_lifetime: -1h\n",
			[]string{`oidcfed.yaml:3: issuer.max_token_lifetime: -1h must be at least 1s`}},
		{"short jwks max age", url + "  jwks_max_age: 30s\n",
			[]string{`oidcfed.yaml:3: issuer.jwks_max_age: 30s must be at least 1m`}},
		{"rotation within cache age", url + "  rotation_period: 1h\n",
			[]string{`oidcfed.yaml:3: issuer.rotation_period: 1h must be longer than issuer.jwks_max_age (1h)`}},
		{"negative rotation", url + "  rotation_period: -5m\n",
			[]string{`oidcfed.yaml:3: issuer.rotation_period: -5m must not be negative`}},
		{"negative audit retention", url + "audit:\n  retention: -1h\n",
			[]string{`oidcfed.yaml:4: audit.retention: -1h must not be negative (use 0 to keep every event)`}},
		{"short audit retention", url + "audit:\n  retention: 30m\n",
			[]string{`oidcfed.yaml:4: audit.retention: 30m is shorter than 1h`}},
		{"empty sub claim", url + "  sub_claim_components: []\n",
			[]string{`oidcfed.yaml:3: issuer.sub_claim_components: must not be empty`}},
		{"sub claim not project first", url + "  sub_claim_components: [ref, project_path]\n",
			[]string{`oidcfed.yaml:3: issuer.sub_claim_components[0]: the first component must be project_path`}},
		{"sub claim unknown", url + "  sub_claim_components:\n    - project_path\n    - environment\n",
			[]string{`oidcfed.yaml:5: issuer.sub_claim_components[1]: "environment" is not one of project_path, ref_type, ref`}},
		{"sub claim duplicate", url + "  sub_claim_components: [project_path, ref, ref]\n",
			[]string{`oidcfed.yaml:3: issuer.sub_claim_components[2]: "ref" is listed more than once`}},
		{"unknown driver", url + "store:\n  driver: mysql\n",
			[]string{`oidcfed.yaml:4: store.driver: "mysql" is not supported (want sqlite or postgres)`}},
		{"postgres without url", url + "store:\n  driver: postgres\n",
			[]string{`oidcfed.yaml:3: store.url: required with driver postgres`}},
		{"postgres url with a password", url + "store:\n  driver: postgres\n  url: postgres://u:pw@db/oidcfed\n",
			[]string{`oidcfed.yaml:5: store.url: must not contain a password: put it in store.password_file`}},
		{"postgres password as a parameter", url + "store:\n  driver: postgres\n  url: postgres://u@db/oidcfed?password=pw\n",
			[]string{`oidcfed.yaml:5: store.url: must not contain a password`}},
		{"postgres url of another kind", url + "store:\n  driver: postgres\n  url: mysql://db/oidcfed\n",
			[]string{`oidcfed.yaml:5: store.url: is not a postgres://user@host:port/database URL`}},
		{"url with sqlite", url + "store:\n  url: postgres://db/oidcfed\n",
			[]string{`oidcfed.yaml:4: store.url: is for driver postgres`}},
		{"pool too large", url + "store:\n  driver: postgres\n  url: postgres://db/x\n  max_conns: 5000\n",
			[]string{`oidcfed.yaml:6: store.max_conns: 5000 is not between 1 and 1000`}},
		{"bad log level", "log_level: verbose\n" + url,
			[]string{`oidcfed.yaml:1: log_level: "verbose" is not one of debug, info, warn, error`}},
		{"listen without port", "listen: 127.0.0.1\n" + url,
			[]string{`oidcfed.yaml:1: listen: "127.0.0.1" is not host:port`}},
		{"listen port zero", "listen: 127.0.0.1:0\n" + url,
			[]string{`oidcfed.yaml:1: listen: port "0" is not a number from 1 to 65535`}},
		{"listen port range", "listen: ':70000'\n" + url,
			[]string{`oidcfed.yaml:1: listen: port "70000"`}},
		{"listen bad host", "listen: 'bad_host!:80'\n" + url,
			[]string{`oidcfed.yaml:1: listen: host "bad_host!" is neither`}},
		{"empty data dir", "data_dir: ''\n" + url,
			[]string{`oidcfed.yaml:1: data_dir: must not be empty`}},
		{"control char in path", "master_key_file: \"/k\\n\"\n" + url,
			[]string{`oidcfed.yaml:1: master_key_file: "/k\n" contains control characters`}},
		{"all validation errors at once", "log_level: loud\nissuer:\n  algorithm: HS256\nstore:\n  driver: oracle\n",
			[]string{`oidcfed.yaml:1: log_level:`, `oidcfed.yaml:2: issuer.url: required`, `oidcfed.yaml:3: issuer.algorithm:`, `oidcfed.yaml:5: store.driver:`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse("oidcfed.yaml", []byte(tt.in))
			if err == nil {
				t.Fatalf("Parse succeeded: %+v", f)
			}
			if f != nil {
				t.Errorf("Parse returned a config along with the error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%v\ndoes not contain\n%s", err, w)
				}
			}
			checkErrorLines(t, "oidcfed.yaml", err)
		})
	}
}

// checkErrorLines asserts every line of a (joined) error starts with the
// file name: no message is left without its location.
func checkErrorLines(t *testing.T, name string, err error) {
	t.Helper()
	for l := range strings.SplitSeq(err.Error(), "\n") {
		if !strings.HasPrefix(l, name+":") && !strings.HasPrefix(l, "... and ") {
			t.Errorf("error line %q does not start with %q", l, name+":")
		}
	}
}

func TestValidAccepted(t *testing.T) {
	for name, in := range map[string]string{
		"http localhost":       "issuer:\n  url: http://localhost:8080/oidc\n",
		"http ipv6 loopback":   "issuer:\n  url: http://[::1]:8080\n",
		"https with port":      "issuer:\n  url: https://ci.example.com:8443/a/b\n",
		"quoted values":        "listen: \"[::1]:8080\"\nissuer:\n  url: 'https://ci.example.com'\n",
		"listen all":           "listen: :443\nissuer:\n  url: https://ci.example.com\n",
		"listen hostname":      "listen: localhost:8080\nissuer:\n  url: https://ci.example.com\n",
		"document end marker":  "issuer:\n  url: https://ci.example.com\n...\n",
		"explicit doc start":   "---\nissuer:\n  url: https://ci.example.com\n",
		"rotation disabled":    "issuer:\n  url: https://ci.example.com\n  rotation_period: 0\n  jwks_max_age: 24h\n",
		"ttl equals max":       "issuer:\n  url: https://ci.example.com\n  default_token_ttl: 2h\n",
		"block list":           "issuer:\n  url: https://ci.example.com\n  sub_claim_components:\n    - project_path\n",
		"crlf line endings":    "issuer:\r\n  url: https://ci.example.com\r\n",
		"utf-8 bom":            "\ufeffissuer:\n  url: https://ci.example.com\n",
		"relative data dir":    "data_dir: ./data\nissuer:\n  url: https://ci.example.com\n",
		"no env var expansion": "data_dir: $HOME/data\nissuer:\n  url: https://ci.example.com\n",
	} {
		t.Run(name, func(t *testing.T) {
			f, err := Parse("oidcfed.yaml", []byte(in))
			if err != nil {
				t.Fatal(err)
			}
			if name == "no env var expansion" && f.DataDir != "$HOME/data" {
				t.Errorf("data_dir = %q, want it verbatim", f.DataDir)
			}
		})
	}
}

func TestTooLarge(t *testing.T) {
	big := make([]byte, MaxFileSize+1)
	for i := range big {
		big[i] = '#'
	}
	if _, err := Parse("big.yaml", big); err == nil || !strings.HasPrefix(err.Error(), "big.yaml: file is larger") {
		t.Errorf("Parse(big) = %v", err)
	}
	path := filepath.Join(t.TempDir(), "big.yaml")
	if err := os.WriteFile(path, big, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err == nil || !strings.HasPrefix(err.Error(), path+": file is larger") {
		t.Errorf("Load(big) = %v", err)
	}
	// Exactly at the limit is still read (and, being all comment, lacks
	// only the URL).
	if _, err := Parse("max.yaml", big[:MaxFileSize]); err == nil || !strings.Contains(err.Error(), "issuer.url: required") {
		t.Errorf("Parse(max) = %v", err)
	}
}

func TestTooManyErrors(t *testing.T) {
	var b strings.Builder
	for i := range 100 {
		b.WriteString("k" + strings.Repeat("x", i) + ": 1\n")
	}
	_, err := Parse("oidcfed.yaml", []byte(b.String()))
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	if n := strings.Count(msg, "\n") + 1; n != maxErrors+1 {
		t.Errorf("%d error lines, want %d", n, maxErrors+1)
	}
	if !strings.HasSuffix(msg, "... and 80 more errors") {
		t.Errorf("error does not end with the count of dropped errors:\n%s", msg)
	}
}

func TestLongValueTruncated(t *testing.T) {
	long := strings.Repeat("a", 10000)
	_, err := Parse("oidcfed.yaml", []byte(long+": 1\n"))
	if err == nil || len(err.Error()) > 200 {
		t.Errorf("error not truncated: %d bytes", len(err.Error()))
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "oidcfed.yaml")
	if err := os.WriteFile(path, []byte(fullConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if f.Issuer.URL != "https://ci.example.com/oidc" {
		t.Errorf("issuer.url = %q", f.Issuer.URL)
	}

	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("issuer:\n  algoritm: x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(bad); err == nil || !strings.Contains(err.Error(), bad+`:2: unknown key "issuer.algoritm"`) {
		t.Errorf("Load(bad) = %v", err)
	}

	if _, err := Load(filepath.Join(dir, "missing.yaml")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load(missing) = %v, want fs.ErrNotExist", err)
	}
}

func TestDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                                   "0s",
		time.Second:                         "1s",
		90 * time.Second:                    "1m30s",
		5 * time.Minute:                     "5m",
		2 * time.Hour:                       "2h",
		2*time.Hour + 30*time.Minute:        "2h30m",
		720 * time.Hour:                     "720h",
		time.Hour + 500*time.Millisecond:    "1h0m0.5s",
		-time.Hour:                          "-1h",
		1500 * time.Millisecond:             "1.5s",
		time.Duration(1<<63 - 1):            "2562047h47m16.854775807s",
		time.Hour + time.Second:             "1h0m1s",
		10*time.Minute + 10*time.Nanosecond: "10m0.00000001s",
	} {
		got := Duration(d).String()
		if got != want {
			t.Errorf("Duration(%v).String() = %q, want %q", d, got, want)
		}
		back, err := time.ParseDuration(got)
		if err != nil || back != d {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", got, back, err, d)
		}
	}

	var d Duration
	if err := d.UnmarshalText([]byte("nope")); err == nil {
		t.Error("UnmarshalText accepted garbage")
	}
	j, err := json.Marshal(struct{ D Duration }{Duration(5 * time.Minute)})
	if err != nil || string(j) != `{"D":"5m"}` {
		t.Errorf("json = %s, %v", j, err)
	}
}

// TestMarshalRoundTrip checks that a loaded config written back out (say by
// a future "print effective config") parses to the same thing.
func TestMarshalRoundTrip(t *testing.T) {
	f, err := Parse("oidcfed.yaml", []byte(fullConfig))
	if err != nil {
		t.Fatal(err)
	}
	out, err := yaml.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "default_token_ttl: 10m\n") {
		t.Errorf("durations not marshalled as strings:\n%s", out)
	}
	g, err := Parse("out.yaml", out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !reflect.DeepEqual(f, g) {
		t.Errorf("round trip changed the config:\n%+v\n%+v", f, g)
	}
	// yaml.Unmarshal goes through Duration.UnmarshalText.
	var h File
	if err := yaml.Unmarshal(out, &h); err != nil || !reflect.DeepEqual(f, &h) {
		t.Errorf("yaml.Unmarshal = %+v, %v", h, err)
	}
}

// TestSchemaTags guards the reflection walk: every field must carry a yaml
// key, or it could never be set from a file.
func TestSchemaTags(t *testing.T) {
	for _, typ := range []reflect.Type{reflect.TypeFor[File](), reflect.TypeFor[Issuer](), reflect.TypeFor[Store]()} {
		if n := len(fieldsByKey(typ)); n != typ.NumField() {
			t.Errorf("%s: %d of %d fields have yaml keys", typ, n, typ.NumField())
		}
	}
}

// FuzzParse: Parse must never panic, every error must carry the file name,
// and a config it accepts must validate and survive a marshal round trip.
func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse("fuzz.yaml", data)
		if err != nil {
			if cfg != nil {
				t.Fatal("config returned with an error")
			}
			checkErrorLines(t, "fuzz.yaml", err)
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("Parse accepted a config that does not validate: %v", err)
		}
		out, err := yaml.Marshal(cfg)
		if err != nil {
			t.Fatalf("marshal: %v", err)
		}
		again, err := Parse("fuzz.yaml", out)
		if err != nil {
			t.Fatalf("re-parse of marshalled config: %v\n%s", err, out)
		}
		if !reflect.DeepEqual(cfg, again) {
			t.Fatalf("round trip changed the config:\n%+v\n%+v", cfg, again)
		}
	})
}
