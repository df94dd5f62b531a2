package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oidcfed/oidcfed/internal/app"
)

// TestOptionsPrecedence pins the precedence documented on options and in
// the --issuer help: issuer URL flag > config > $OIDCFED_ISSUER > dev.env;
// master key file flag > $OIDCFED_MASTER_KEY_FILE > config > <data>/master.key.
func TestOptionsPrecedence(t *testing.T) {
	tmp := t.TempDir()
	data := filepath.Join(tmp, "data")
	if err := os.MkdirAll(data, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(data, app.DevEnvFileName), []byte("export OIDCFED_ISSUER='http://dev.env'\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(tmp, "oidcfed.yaml")
	if err := os.WriteFile(config, []byte("data_dir: "+data+"\nmaster_key_file: /config/master.key\nissuer:\n  url: https://config.example.com\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name              string
		flags             localFlags
		envIssuer, envKey string
		wantIssuer        string
		wantKey           string
		wantErr           string
	}{
		{"flags win", localFlags{configFile: config, issuerURL: "https://flag.example.com", masterKeyFile: "/flag/master.key"},
			"http://env", "/env/master.key", "https://flag.example.com", "/flag/master.key", ""},
		{"config beats env for the issuer, env beats config for the key", localFlags{configFile: config},
			"http://env", "/env/master.key", "https://config.example.com", "/env/master.key", ""},
		{"config alone", localFlags{configFile: config}, "", "", "https://config.example.com", "/config/master.key", ""},
		{"env beats dev.env", localFlags{dataDir: data}, "http://env", "", "http://env", filepath.Join(data, "master.key"), ""},
		{"dev.env last", localFlags{dataDir: data}, "", "", "http://dev.env", filepath.Join(data, "master.key"), ""},
		{"no issuer anywhere", localFlags{dataDir: tmp}, "", "", "", "", "which issuer?"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("OIDCFED_ISSUER", tc.envIssuer)
			t.Setenv("OIDCFED_MASTER_KEY_FILE", tc.envKey)
			o, err := tc.flags.options(true)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if o.Issuer.URL != tc.wantIssuer || o.MasterKeyFile != tc.wantKey {
				t.Fatalf("issuer %q key %q, want %q %q", o.Issuer.URL, o.MasterKeyFile, tc.wantIssuer, tc.wantKey)
			}
		})
	}
}

// TestStorePrecedence: the store comes from --store, then $OIDCFED_STORE,
// then the config file; "sqlite" names the data directory's database.
func TestStorePrecedence(t *testing.T) {
	tmp := t.TempDir()
	config := filepath.Join(tmp, "oidcfed.yaml")
	const fromConfig = "postgres://oidcfed@config.example/oidcfed"
	if err := os.WriteFile(config, []byte("data_dir: "+tmp+"\nissuer:\n  url: https://ci.example.com\nstore:\n  driver: postgres\n  url: "+fromConfig+"\n  password_file: /pw\n  max_conns: 3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		flags    localFlags
		env      string
		wantURL  string
		wantPass string
		wantErr  string
	}{
		{"sqlite by default", localFlags{dataDir: tmp}, "", "", "", ""},
		{"config", localFlags{configFile: config}, "", fromConfig, "/pw", ""},
		{"env beats config", localFlags{configFile: config}, "postgres://env/db", "postgres://env/db", "", ""},
		{"flag beats env", localFlags{configFile: config, storeURL: "postgres://u:pw@flag/db"}, "postgres://env/db", "postgres://u:pw@flag/db", "", ""},
		{"sqlite over the config", localFlags{configFile: config, storeURL: "sqlite"}, "", "", "", ""},
		{"not a store", localFlags{dataDir: tmp, storeURL: "mysql://u:hunter2@db/x"}, "", "", "", "want a postgres:// URL or sqlite"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("OIDCFED_STORE", tc.env)
			o, err := tc.flags.options(false)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || strings.Contains(err.Error(), "hunter2") {
					t.Fatalf("err = %v, want %q without the password", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if o.StoreURL != tc.wantURL || o.StorePasswordFile != tc.wantPass {
				t.Errorf("store %q password file %q, want %q %q", o.StoreURL, o.StorePasswordFile, tc.wantURL, tc.wantPass)
			}
		})
	}
}
