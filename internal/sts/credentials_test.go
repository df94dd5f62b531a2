package sts

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

// testKey is a fixed session key for generation gen, salted so different
// "master keys" can be told apart.
func testKey(gen uint32, salt string) SessionKey {
	return DeriveSessionKey(func(info string) []byte {
		sum := sha256.Sum256([]byte(salt + "|" + info))
		return sum[:]
	}, gen)
}

func testRing(t testing.TB, current SessionKey, older ...SessionKey) *SessionKeyring {
	t.Helper()
	r, err := NewSessionKeyring(current, older...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

var t0 = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

const testPolicy = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:ListBucket"],"Resource":["arn:aws:s3:::my-bucket","arn:aws:s3:::my-bucket/*"]},{"Effect":"Deny","Action":"s3:DeleteObject","Resource":"*"}]}`

// webSession is a typical AssumeRoleWithWebIdentity session.
func webSession() Session {
	return Session{
		RoleARN:        "arn:aws:iam::000000000000:role/gitlab-deploy",
		RoleID:         "AROAEXAMPLEEXAMPLE123",
		SessionName:    "gitlab-ci-42-1001",
		SourceIdentity: "alice",
		ProviderARN:    "arn:aws:iam::000000000000:oidc-provider/gitlab.example.com",
		Subject:        "project_path:mygroup/myproject:ref_type:branch:ref:main",
		Audience:       "https://gitlab.example.com",
		IssuedAt:       t0,
		Expiration:     t0.Add(time.Hour),
	}
}

func fullSession() Session {
	s := webSession()
	s.Policy = testPolicy
	s.PolicyARNs = []string{"arn:aws:iam::aws:policy/ReadOnlyAccess", "arn:aws:iam::000000000000:policy/ci/deploy"}
	s.Tags = []Tag{{"Project", "Automation"}, {"CostCenter", "987654"}, {"Empty", ""}}
	s.TransitiveTagKeys = []string{"Project"}
	return s
}

var (
	akidPattern   = regexp.MustCompile(`^ASIA[A-Z2-7]{16}$`)
	secretPattern = regexp.MustCompile(`^[A-Za-z0-9+/]{40}$`)
)

func TestSealOpenRoundTrip(t *testing.T) {
	ring := testRing(t, testKey(1, "m"))
	long := webSession()
	long.Policy = strings.Repeat("é", 2048) // 4,096 bytes: the largest AWS policy
	short := webSession()
	short.Policy = `{"Version":"2012-10-17"}` // under compressMin: stored as is
	incompressible := webSession()
	var noise []byte
	for i := range 24 {
		sum := sha256.Sum256([]byte{byte(i)})
		noise = append(noise, sum[:]...)
	}
	incompressible.Policy = base64.StdEncoding.EncodeToString(noise) // 1,024 characters
	fractional := webSession()
	fractional.IssuedAt = t0.Add(300 * time.Millisecond)
	fractional.Expiration = t0.Add(time.Hour + 999*time.Millisecond)
	tests := []struct {
		name string
		s    Session
	}{
		{"web identity", webSession()},
		{"policies and tags", fullSession()},
		{"largest policy", long},
		{"short policy", short},
		{"incompressible policy", incompressible},
		{"empty", Session{IssuedAt: t0, Expiration: t0.Add(15 * time.Minute)}},
		{"fractional seconds truncated", fractional},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ring.Seal(tt.s)
			if err != nil {
				t.Fatal(err)
			}
			if !akidPattern.MatchString(c.AccessKeyID) {
				t.Errorf("access key id %q", c.AccessKeyID)
			}
			if !secretPattern.MatchString(c.SecretAccessKey) {
				t.Errorf("secret %q", c.SecretAccessKey)
			}
			if _, err := base64.StdEncoding.Strict().DecodeString(c.SessionToken); err != nil || !strings.HasPrefix(c.SessionToken, "b2Z0") {
				t.Errorf("token %q: %v", c.SessionToken, err)
			}
			if !c.Expiration.Equal(tt.s.Expiration.Truncate(time.Second)) || c.Expiration.Location() != time.UTC {
				t.Errorf("Expiration %v", c.Expiration)
			}
			got, err := ring.Open(c.AccessKeyID, c.SessionToken, tt.s.IssuedAt)
			if err != nil {
				t.Fatal(err)
			}
			want := tt.s
			want.IssuedAt = want.IssuedAt.Truncate(time.Second)
			want.Expiration = want.Expiration.Truncate(time.Second)
			want.AccessKeyID, want.SecretAccessKey, want.KeyGeneration = c.AccessKeyID, c.SecretAccessKey, 1
			if !reflect.DeepEqual(*got, want) {
				t.Errorf("opened\n%+v\nwant\n%+v", *got, want)
			}
			t.Logf("token: %d characters", len(c.SessionToken))
		})
	}
}

func TestSealIsFresh(t *testing.T) {
	ring := testRing(t, testKey(1, "m"))
	a, _ := ring.Seal(webSession())
	b, _ := ring.Seal(webSession())
	if a.AccessKeyID == b.AccessKeyID || a.SecretAccessKey == b.SecretAccessKey || a.SessionToken == b.SessionToken {
		t.Error("two seals of one session share credentials")
	}
}

func TestTypicalTokenSize(t *testing.T) {
	ring := testRing(t, testKey(1, "m"))
	c, _ := ring.Seal(webSession())
	if n := len(c.SessionToken); n > 700 {
		t.Errorf("a plain web-identity token is %d characters; AWS's are 400-1500", n)
	}
	c, _ = ring.Seal(fullSession())
	if n := len(c.SessionToken); n > 1000 {
		t.Errorf("a token with a policy and tags is %d characters", n)
	}
}

// mutate returns the token with its decoded byte i changed by f.
func mutate(token string, f func(b []byte)) string {
	raw, _ := base64.StdEncoding.DecodeString(token)
	f(raw)
	return base64.StdEncoding.EncodeToString(raw)
}

func TestOpenRefuses(t *testing.T) {
	gen1 := testKey(1, "m")
	ring := testRing(t, gen1)
	c, err := ring.Seal(fullSession())
	if err != nil {
		t.Fatal(err)
	}
	other, _ := testRing(t, testKey(1, "m")).Seal(fullSession())
	otherMaster, _ := testRing(t, testKey(1, "another master key")).Seal(fullSession())
	unknownGen, _ := testRing(t, testKey(9, "m")).Seal(fullSession())
	flip := func(i int) func([]byte) {
		return func(b []byte) {
			if i < 0 {
				i += len(b)
			}
			b[i] ^= 0x01
		}
	}
	now := t0.Add(time.Minute)
	tests := []struct {
		name  string
		akid  string
		token string
		now   time.Time
		want  error
	}{
		{"valid", c.AccessKeyID, c.SessionToken, now, nil},
		{"last valid second", c.AccessKeyID, c.SessionToken, t0.Add(time.Hour - time.Nanosecond), nil},
		{"expired at Expiration", c.AccessKeyID, c.SessionToken, t0.Add(time.Hour), ErrExpiredToken},
		{"expired long ago", c.AccessKeyID, c.SessionToken, t0.Add(48 * time.Hour), ErrExpiredToken},
		{"another session's access key id", other.AccessKeyID, c.SessionToken, now, ErrInvalidToken},
		{"token of another session", c.AccessKeyID, other.SessionToken, now, ErrInvalidToken},
		{"lower-case access key id", strings.ToLower(c.AccessKeyID), c.SessionToken, now, ErrInvalidToken},
		{"AKIA access key id", "AKIA" + c.AccessKeyID[4:], c.SessionToken, now, ErrInvalidToken},
		{"short access key id", c.AccessKeyID[:19], c.SessionToken, now, ErrInvalidToken},
		{"access key id outside base32", c.AccessKeyID[:19] + "1", c.SessionToken, now, ErrInvalidToken},
		{"empty token", c.AccessKeyID, "", now, ErrInvalidToken},
		{"not base64", c.AccessKeyID, "!!!!" + c.SessionToken[4:], now, ErrInvalidToken},
		{"URL-safe base64", c.AccessKeyID, strings.NewReplacer("+", "-", "/", "_").Replace(c.SessionToken) + "_-", now, ErrInvalidToken},
		{"newline inside", c.AccessKeyID, c.SessionToken[:8] + "\n" + c.SessionToken[8:], now, ErrInvalidToken},
		{"truncated", c.AccessKeyID, c.SessionToken[:len(c.SessionToken)-4], now, ErrInvalidToken},
		{"header only", c.AccessKeyID, base64.StdEncoding.EncodeToString([]byte("oft\x01\x00\x00\x00\x01abcdefghijkl")), now, ErrInvalidToken},
		{"too long", c.AccessKeyID, strings.Repeat("A", MaxSessionTokenLength+4), now, ErrInvalidToken},
		{"magic changed", c.AccessKeyID, mutate(c.SessionToken, flip(0)), now, ErrInvalidToken},
		{"version changed", c.AccessKeyID, mutate(c.SessionToken, flip(3)), now, ErrInvalidToken},
		{"generation changed (wrong key id)", c.AccessKeyID, mutate(c.SessionToken, flip(7)), now, ErrInvalidToken},
		{"nonce changed", c.AccessKeyID, mutate(c.SessionToken, flip(10)), now, ErrInvalidToken},
		{"ciphertext changed", c.AccessKeyID, mutate(c.SessionToken, flip(30)), now, ErrInvalidToken},
		{"tag changed", c.AccessKeyID, mutate(c.SessionToken, flip(-1)), now, ErrInvalidToken},
		{"sealed under another master key", otherMaster.AccessKeyID, otherMaster.SessionToken, now, ErrInvalidToken},
		{"sealed under an unknown generation", unknownGen.AccessKeyID, unknownGen.SessionToken, now, ErrInvalidToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ring.Open(tt.akid, tt.token, tt.now)
			if tt.want == nil {
				if err != nil || s == nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if s != nil || !errors.Is(err, tt.want) {
				t.Fatalf("got %v, %v; want %v", s, err, tt.want)
			}
			var te *TokenError
			if !errors.As(err, &te) || te.Reason == "" {
				t.Fatalf("not a *TokenError with a reason: %v", err)
			}
			api := te.APIError()
			wantCode, wantMsg := "InvalidClientTokenId", "The security token included in the request is invalid."
			if tt.want == ErrExpiredToken {
				wantCode, wantMsg = "ExpiredToken", "The security token included in the request is expired"
			}
			if api.Code != wantCode || api.Message != wantMsg || api.HTTPStatus != 403 {
				t.Errorf("wire error %+v", api)
			}
		})
	}
}

func TestKeyRotation(t *testing.T) {
	gen1, gen2, gen3 := testKey(1, "m"), testKey(2, "m"), testKey(3, "m")
	old, _ := testRing(t, gen1).Seal(webSession())
	now := t0.Add(time.Minute)
	tests := []struct {
		name    string
		ring    *SessionKeyring
		wantErr error
	}{
		{"same generation", testRing(t, gen1), nil},
		{"after rotation: previous generation still opens", testRing(t, gen2, gen1), nil},
		{"previous generation dropped", testRing(t, gen3, gen2), ErrInvalidToken},
		{"rotated without the previous key", testRing(t, gen2), ErrInvalidToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := tt.ring.Open(old.AccessKeyID, old.SessionToken, now)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err %v, want %v", err, tt.wantErr)
			}
			if err == nil && (s.KeyGeneration != 1 || s.SecretAccessKey != old.SecretAccessKey) {
				t.Errorf("generation %d, secret recovered %v", s.KeyGeneration, s.SecretAccessKey == old.SecretAccessKey)
			}
		})
	}
	// New tokens are sealed under the current generation.
	r := testRing(t, gen2, gen1)
	c, _ := r.Seal(webSession())
	s, err := r.Open(c.AccessKeyID, c.SessionToken, now)
	if err != nil || s.KeyGeneration != 2 || r.CurrentGeneration() != 2 {
		t.Errorf("new token: %v, %v", s, err)
	}
}

func TestSealRefuses(t *testing.T) {
	ring := testRing(t, testKey(1, "m"))
	backwards := webSession()
	backwards.Expiration = backwards.IssuedAt.Add(-time.Second)
	bigPolicy := webSession()
	bigPolicy.Policy = strings.Repeat("x", maxPolicyBytes+1)
	manyTags := webSession()
	for i := range 50 {
		manyTags.Tags = append(manyTags.Tags, Tag{strings.Repeat("k", 120) + string(rune('a'+i%26)), strings.Repeat("v", 256)})
	}
	tests := []struct {
		name string
		s    Session
		want error
	}{
		{"expires before issued", backwards, nil},
		{"policy over 4,096 bytes", bigPolicy, ErrSessionTooLarge},
		{"token over the bound", manyTags, ErrSessionTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ring.Seal(tt.s)
			if err == nil || (tt.want != nil && !errors.Is(err, tt.want)) {
				t.Fatalf("err %v, want %v", err, tt.want)
			}
		})
	}
}

func TestNewSessionKeyring(t *testing.T) {
	tests := []struct {
		name  string
		keys  []SessionKey
		valid bool
	}{
		{"current only", []SessionKey{testKey(1, "m")}, true},
		{"current and previous", []SessionKey{testKey(2, "m"), testKey(1, "m")}, true},
		{"short secret", []SessionKey{{Generation: 1, Secret: make([]byte, 16)}}, false},
		{"generation twice", []SessionKey{testKey(1, "m"), testKey(1, "other")}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewSessionKeyring(tt.keys[0], tt.keys[1:]...)
			if (err == nil) != tt.valid {
				t.Errorf("err %v, want valid=%v", err, tt.valid)
			}
		})
	}
}

func TestDeriveSessionKey(t *testing.T) {
	var infos []string
	k := DeriveSessionKey(func(info string) []byte {
		infos = append(infos, info)
		return make([]byte, 32)
	}, 7)
	if k.Generation != 7 || len(infos) != 1 || infos[0] != "oidcfed sts session key v1 7" {
		t.Errorf("key %+v, infos %q", k, infos)
	}
}

func BenchmarkSeal(b *testing.B) {
	ring := testRing(b, testKey(1, "m"))
	for _, bc := range []struct {
		name string
		s    Session
	}{{"web", webSession()}, {"policy+tags", fullSession()}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ring.Seal(bc.s); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkOpen(b *testing.B) {
	ring := testRing(b, testKey(1, "m"))
	for _, bc := range []struct {
		name string
		s    Session
	}{{"web", webSession()}, {"policy+tags", fullSession()}} {
		b.Run(bc.name, func(b *testing.B) {
			c, _ := ring.Seal(bc.s)
			now := t0.Add(time.Minute)
			b.ReportAllocs()
			b.ReportMetric(float64(len(c.SessionToken)), "token-chars")
			for b.Loop() {
				if _, err := ring.Open(c.AccessKeyID, c.SessionToken, now); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkOpenOverBareGCM interleaves Open of a usual web-identity token
// with a bare AES-256-GCM open of 600 bytes (the reference cost, about
// 300 ns on an idle core) and reports the ratio, so machine noise hits both
// sides alike.
func BenchmarkOpenOverBareGCM(b *testing.B) {
	ring := testRing(b, testKey(1, "m"))
	c, _ := ring.Seal(webSession())
	now := t0.Add(time.Minute)
	gcm := ring.current.aead
	nonce := make([]byte, gcm.NonceSize())
	sealed := gcm.Seal(nil, nonce, make([]byte, 600), nil)
	dst := make([]byte, 0, 600)
	var openT, bareT time.Duration
	for b.Loop() {
		t1 := time.Now()
		if _, err := ring.Open(c.AccessKeyID, c.SessionToken, now); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		if _, err := gcm.Open(dst, nonce, sealed, nil); err != nil {
			b.Fatal(err)
		}
		bareT += time.Since(t2)
		openT += t2.Sub(t1)
	}
	b.ReportMetric(float64(openT)/float64(bareT), "open/gcm")
	b.ReportMetric(float64(openT.Nanoseconds())/float64(b.N), "open-ns")
	b.ReportMetric(float64(bareT.Nanoseconds())/float64(b.N), "gcm600-ns")
}

// TestOpenPinnedToken opens a token sealed by an earlier build: the token
// format and the secret derivation are a contract with every live session,
// so a change to either must fail here rather than log everyone out.
func TestOpenPinnedToken(t *testing.T) {
	data, err := os.ReadFile("testdata/session_token_v1.txt")
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(data))
	if len(f) != 3 {
		t.Fatalf("want access key id, secret and token; got %d fields", len(f))
	}
	s, err := testRing(t, testKey(1, "m")).Open(f[0], f[2], t0.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	want := fullSession() // as it was when the token was sealed: keep a copy here if it changes
	want.AccessKeyID, want.SecretAccessKey, want.KeyGeneration = f[0], f[1], 1
	if !reflect.DeepEqual(*s, want) {
		t.Errorf("opened\n%+v\nwant\n%+v", *s, want)
	}
}
