package federation

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"
)

// fixture is one IdP with RSA and EC keys and a verifier at epoch.
type fixture struct {
	idp    *testIdP
	rsaKey *testKey
	ecKey  *testKey
	clock  *testClock
	v      *Verifier
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{rsaKey: newRSATestKey(t, "rsa-1", 0), ecKey: newECTestKey(t, "ec-1", "ES256")}
	f.idp = newTestIdP(t, f.rsaKey, f.ecKey)
	f.clock = newTestClock(epoch)
	f.v = newTestVerifier(t, f.clock, f.idp.provider())
	return f
}

func TestVerifyValidTokens(t *testing.T) {
	rsa0 := newRSATestKey(t, "rs256", 0)
	rs384 := &testKey{kid: "rs384", alg: "RS384", priv: testRSAKey(t, 1)}
	rs512 := &testKey{kid: "rs512", alg: "RS512", priv: testRSAKey(t, 2)}
	es256 := newECTestKey(t, "es256", "ES256")
	es384 := newECTestKey(t, "es384", "ES384")
	es512 := newECTestKey(t, "es512", "ES512")
	all := []*testKey{rsa0, rs384, rs512, es256, es384, es512}
	idp := newTestIdP(t, all...)
	clock := newTestClock(epoch)
	v := newTestVerifier(t, clock, idp.provider())
	for _, k := range all {
		t.Run(k.alg, func(t *testing.T) {
			claims := gitlabClaims(idp.url)
			claims["amr"] = []any{"pwd", "mfa"}
			got, err := v.Verify(bg, mint(t, k, claims))
			if err != nil {
				t.Fatal(err)
			}
			if got.Alg != k.alg || got.KID != k.kid || got.Audience != testAudience || got.Provider.URL != idp.url {
				t.Fatalf("got %+v", got)
			}
			c := got.Claims
			if c.Issuer != idp.url || c.Subject != claims["sub"] || len(c.Audience) != 1 ||
				!c.Expiry.Equal(epoch.Add(300*time.Second)) || !c.IssuedAt.Equal(epoch) ||
				!c.NotBefore.Equal(epoch.Add(-5*time.Second)) || strings.Join(c.AMR, ",") != "pwd,mfa" {
				t.Fatalf("claims %+v", c)
			}
			if c.Raw["runner_id"] != json.Number("1") || c.Raw["ref_protected"] != "true" {
				t.Fatalf("raw types: %#v %#v", c.Raw["runner_id"], c.Raw["ref_protected"])
			}
		})
	}
	if n := idp.jwksFetches.Load(); n != 1 {
		t.Fatalf("%d JWKS fetches, want 1 (cache)", n)
	}
}

func TestNumbersStayExact(t *testing.T) {
	f := newFixture(t)
	claims := gitlabClaims(f.idp.url)
	payload := strings.TrimSuffix(mustJSON(claims), "}") + `,"big":9007199254740993}`
	tok := signRaw(t, f.rsaKey, "RS256", `{"alg":"RS256","kid":"rsa-1"}`, payload)
	got, err := f.v.Verify(bg, tok)
	if err != nil {
		t.Fatal(err)
	}
	if got.Claims.Raw["big"] != json.Number("9007199254740993") {
		t.Fatalf("big = %#v", got.Claims.Raw["big"])
	}
}

// TestDecodeAttacks covers security.md §1: each token is rejected with
// InvalidIdentityToken (or ValidationError for length) and, for the structural ones,
// before any key is fetched.
func TestDecodeAttacks(t *testing.T) {
	f := newFixture(t)
	iss := f.idp.url
	claims := mustJSON(gitlabClaims(iss))
	good := mint(t, f.rsaKey, gitlabClaims(iss))
	h, p, s := splitToken(good)
	pubDER, err := x509.MarshalPKIXPublicKey(f.rsaKey.priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	attacker := newECTestKey(t, "rsa-1", "ES256")
	seg := func(hdr string) string { return b64([]byte(hdr)) }
	hsInput := seg(`{"alg":"HS256","kid":"rsa-1"}`) + "." + b64([]byte(claims))

	deep := strings.Repeat("[", 5000) + strings.Repeat("]", 5000)
	deepPayload := `{"iss":"` + iss + `","x":` + deep + `}`

	nonCanonical := good[:len(good)-1] + nudgeLast(good[len(good)-1:])

	type tc struct {
		name  string
		token string
		code  Code
		cause error
	}
	cases := []tc{
		{"alg none empty signature", seg(`{"alg":"none"}`) + "." + b64([]byte(claims)) + ".", InvalidIdentityToken, ErrMalformed},
		{"alg none with signature", seg(`{"alg":"none"}`) + "." + b64([]byte(claims)) + "." + s, InvalidIdentityToken, ErrAlgorithm},
		{"alg None", seg(`{"alg":"None"}`) + "." + b64([]byte(claims)) + "." + s, InvalidIdentityToken, ErrAlgorithm},
		{"alg nOnE", seg(`{"alg":"nOnE"}`) + "." + b64([]byte(claims)) + "." + s, InvalidIdentityToken, ErrAlgorithm},
		{"alg rs256 lower case", seg(`{"alg":"rs256","kid":"rsa-1"}`) + "." + p + "." + s, InvalidIdentityToken, ErrAlgorithm},
		{"alg missing", seg(`{"kid":"rsa-1"}`) + "." + p + "." + s, InvalidIdentityToken, ErrAlgorithm},
		{"alg not a string", seg(`{"alg":["RS256"]}`) + "." + p + "." + s, InvalidIdentityToken, ErrAlgorithm},
		{"HS256 keyed with RSA public key DER", hs256(pubDER, hsInput), InvalidIdentityToken, ErrAlgorithm},
		{"HS256 keyed with RSA public key PEM", hs256(pubPEM, hsInput), InvalidIdentityToken, ErrAlgorithm},
		{"HS256 keyed with JWK n", hs256([]byte(b64(f.rsaKey.priv.Public().(*rsa.PublicKey).N.Bytes())), hsInput), InvalidIdentityToken, ErrAlgorithm},
		{"HS384", hs256(pubDER, seg(`{"alg":"HS384"}`)+"."+p), InvalidIdentityToken, ErrAlgorithm},
		{"PS256", seg(`{"alg":"PS256","kid":"rsa-1"}`) + "." + p + "." + s, InvalidIdentityToken, ErrAlgorithm},
		{"EdDSA", seg(`{"alg":"EdDSA","kid":"rsa-1"}`) + "." + p + "." + s, InvalidIdentityToken, ErrAlgorithm},
		{"embedded jwk", signRaw(t, attacker, "ES256", `{"alg":"ES256","kid":"rsa-1","jwk":`+attacker.jwkJSON()+`}`, claims), InvalidIdentityToken, ErrHeader},
		{"jku", signRaw(t, attacker, "ES256", `{"alg":"ES256","kid":"rsa-1","jku":"https://evil.example/jwks"}`, claims), InvalidIdentityToken, ErrHeader},
		{"x5u", signRaw(t, attacker, "ES256", `{"alg":"ES256","kid":"rsa-1","x5u":"https://evil.example/cert"}`, claims), InvalidIdentityToken, ErrHeader},
		{"x5c", signRaw(t, f.rsaKey, "RS256", `{"alg":"RS256","kid":"rsa-1","x5c":["MIIB"]}`, claims), InvalidIdentityToken, ErrHeader},
		{"crit exp", signRaw(t, f.rsaKey, "RS256", `{"alg":"RS256","kid":"rsa-1","crit":["exp"],"exp":1}`, claims), InvalidIdentityToken, ErrHeader},
		{"crit b64 false", signRaw(t, f.rsaKey, "RS256", `{"alg":"RS256","kid":"rsa-1","crit":["b64"],"b64":false}`, claims), InvalidIdentityToken, ErrHeader},
		{"b64 false", signRaw(t, f.rsaKey, "RS256", `{"alg":"RS256","kid":"rsa-1","b64":false}`, claims), InvalidIdentityToken, ErrHeader},
		{"nested JWT cty", signRaw(t, f.rsaKey, "RS256", `{"alg":"RS256","kid":"rsa-1","cty":"JWT"}`, claims), InvalidIdentityToken, ErrHeader},
		{"JWE five segments", h + "." + "AAAA" + "." + "AAAA" + "." + p + "." + s, InvalidIdentityToken, ErrMalformed},
		{"JWS JSON serialization", `{"payload":"` + p + `","protected":"` + h + `","signature":"` + s + `"}`, InvalidIdentityToken, ErrMalformed},
		{"two segments", h + "." + p, InvalidIdentityToken, ErrMalformed},
		{"empty payload", h + ".." + s, InvalidIdentityToken, ErrMalformed},
		{"duplicate claim", signRaw(t, f.rsaKey, "RS256", `{"alg":"RS256","kid":"rsa-1"}`, strings.TrimSuffix(claims, "}")+`,"sub":"other"}`), InvalidIdentityToken, ErrMalformed},
		{"case-variant claim", signRaw(t, f.rsaKey, "RS256", `{"alg":"RS256","kid":"rsa-1"}`, strings.TrimSuffix(claims, "}")+`,"SUB":"project_path:evil/x"}`), InvalidIdentityToken, ErrMalformed},
		{"case-variant claim, upper first", signRaw(t, f.rsaKey, "RS256", `{"alg":"RS256","kid":"rsa-1"}`, `{"Aud":"x",`+claims[1:]), InvalidIdentityToken, ErrMalformed},
		{"case-variant via long s", signRaw(t, f.rsaKey, "RS256", `{"alg":"RS256","kid":"rsa-1"}`, strings.TrimSuffix(claims, "}")+`,"ſub":"x"}`), InvalidIdentityToken, ErrMalformed},
		{"duplicate alg", signRaw(t, f.rsaKey, "RS256", `{"alg":"RS256","alg":"none","kid":"rsa-1"}`, claims), InvalidIdentityToken, ErrMalformed},
		{"case-variant alg", signRaw(t, f.rsaKey, "RS256", `{"alg":"RS256","ALG":"none","kid":"rsa-1"}`, claims), InvalidIdentityToken, ErrMalformed},
		{"padding", h + "." + p + "." + s + "==", InvalidIdentityToken, ErrMalformed},
		{"padded header", b64pad(h) + "." + p + "." + s, InvalidIdentityToken, ErrMalformed},
		{"standard alphabet", strings.NewReplacer("-", "+", "_", "/").Replace(good), InvalidIdentityToken, ErrMalformed},
		{"newline inside segment", h + "." + p[:10] + "\n" + p[10:] + "." + s, InvalidIdentityToken, ErrMalformed},
		{"CR LF inside signature", h + "." + p + "." + s[:8] + "\r\n" + s[8:], InvalidIdentityToken, ErrMalformed},
		{"leading space", " " + good, InvalidIdentityToken, ErrMalformed},
		{"trailing space", good + " ", InvalidIdentityToken, ErrMalformed},
		{"Bearer prefix", "Bearer " + good, InvalidIdentityToken, ErrMalformed},
		{"non-canonical trailing bits", nonCanonical, InvalidIdentityToken, ErrMalformed},
		{"20001 characters", good + "." + strings.Repeat("A", MaxTokenLength-len(good)), ValidationError, ErrTokenTooLong},
		{"100000 dots", strings.Repeat(".", 100000), ValidationError, ErrTokenTooLong},
		{"19999 dots", strings.Repeat(".", 19999), InvalidIdentityToken, ErrMalformed},
		{"deep nesting", signRaw(t, f.rsaKey, "RS256", `{"alg":"RS256","kid":"rsa-1"}`, deepPayload), InvalidIdentityToken, ErrMalformed},
		{"invalid UTF-8", signRaw(t, f.rsaKey, "RS256", `{"alg":"RS256","kid":"rsa-1"}`, strings.TrimSuffix(claims, "}")+`,"x":"`+"\xff\xfe"+`"}`), InvalidIdentityToken, ErrMalformed},
		{"lone surrogate escape", signRaw(t, f.rsaKey, "RS256", `{"alg":"RS256","kid":"rsa-1"}`, strings.TrimSuffix(claims, "}")+`,"x":"\ud800"}`), InvalidIdentityToken, ErrMalformed},
		{"payload not an object", signRaw(t, f.rsaKey, "RS256", `{"alg":"RS256","kid":"rsa-1"}`, `["a"]`), InvalidIdentityToken, ErrMalformed},
		{"trailing garbage after JSON", signRaw(t, f.rsaKey, "RS256", `{"alg":"RS256","kid":"rsa-1"}`, claims+`{}`), InvalidIdentityToken, ErrMalformed},
		{"kid 10 KB", signRaw(t, f.rsaKey, "RS256", `{"alg":"RS256","kid":"`+strings.Repeat("k", 10000)+`"}`, claims), InvalidIdentityToken, ErrMalformed},
		{"kid not a string", signRaw(t, f.rsaKey, "RS256", `{"alg":"RS256","kid":7}`, claims), InvalidIdentityToken, ErrMalformed},
		{"ES256 DER signature", derSig(t, f.ecKey, claims), InvalidIdentityToken, ErrSignature},
		{"ES256 63-byte signature", shortECSig(t, f.ecKey, claims), InvalidIdentityToken, ErrSignature},
		{"too short", "a.b", ValidationError, ErrMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := f.v.Verify(bg, c.token)
			te := wantCode(t, err, c.code, "")
			if !errors.Is(err, c.cause) {
				t.Fatalf("cause %v, want %v", te.Cause, c.cause)
			}
		})
	}
	if n := f.idp.jwksFetches.Load() + f.idp.discoveryFetches.Load(); n != 0 {
		t.Fatalf("%d fetches for tokens rejected before key lookup", n)
	}
}

func splitToken(tok string) (string, string, string) {
	a := strings.SplitN(tok, ".", 3)
	return a[0], a[1], a[2]
}

func b64pad(s string) string {
	for len(s)%4 != 0 {
		s += "="
	}
	return s
}

// nudgeLast returns another base64url character that decodes to the same bytes when the
// last character carries unused bits (the signature of RSA-2048 is 256 bytes: 4 unused
// bits in its last character).
func nudgeLast(c string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	i := strings.Index(alphabet, c)
	return string(alphabet[i^1])
}

func derSig(t *testing.T, k *testKey, claims string) string {
	raw := signRaw(t, k, "ES256", `{"alg":"ES256","kid":"ec-1"}`, claims)
	h, p, s := splitToken(raw)
	sig, _ := decodeB64(s)
	der, err := asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])})
	if err != nil {
		t.Fatal(err)
	}
	return h + "." + p + "." + b64(der)
}

func shortECSig(t *testing.T, k *testKey, claims string) string {
	raw := signRaw(t, k, "ES256", `{"alg":"ES256","kid":"ec-1"}`, claims)
	h, p, s := splitToken(raw)
	sig, _ := decodeB64(s)
	return h + "." + p + "." + b64(sig[1:])
}

// TestClaimChecks covers audience, subject, issuer and time claims on authentic tokens.
func TestClaimChecks(t *testing.T) {
	f := newFixture(t)
	iss := f.idp.url
	now := epoch.Unix()
	type tc struct {
		name   string
		mutate func(map[string]any)
		code   Code // "" = success
		msg    string
	}
	cases := []tc{
		{"valid", func(map[string]any) {}, "", ""},
		{"aud array with match", func(c map[string]any) { c["aud"] = []any{"other", testAudience} }, "", ""},
		{"aud array without match", func(c map[string]any) { c["aud"] = []any{"other", "sts.amazonaws.com "} }, InvalidIdentityToken, msgAudience},
		{"aud trailing slash", func(c map[string]any) { c["aud"] = "https://gitlab.example.com/" }, InvalidIdentityToken, msgAudience},
		{"aud case differs", func(c map[string]any) { c["aud"] = "STS.amazonaws.com" }, InvalidIdentityToken, msgAudience},
		{"aud empty array", func(c map[string]any) { c["aud"] = []any{} }, InvalidIdentityToken, msgAudience},
		{"aud number", func(c map[string]any) { c["aud"] = 5 }, InvalidIdentityToken, msgAudience},
		{"aud array with non-string", func(c map[string]any) { c["aud"] = []any{testAudience, 5} }, InvalidIdentityToken, msgAudience},
		{"aud missing", func(c map[string]any) { delete(c, "aud") }, InvalidIdentityToken, msgMissingAud},
		{"iss unknown", func(c map[string]any) { c["iss"] = "https://gitlab.com" }, InvalidIdentityToken, "No OpenIDConnect provider found in your account for https://gitlab.com"},
		{"iss trailing slash", func(c map[string]any) { c["iss"] = iss + "/" }, InvalidIdentityToken, msgNoProvider + iss + "/"},
		{"iss upper case", func(c map[string]any) { c["iss"] = strings.ToUpper(iss) }, InvalidIdentityToken, msgNoProvider + strings.ToUpper(iss)},
		{"iss missing", func(c map[string]any) { delete(c, "iss") }, InvalidIdentityToken, "Missing a required claim: iss"},
		{"sub missing", func(c map[string]any) { delete(c, "sub") }, InvalidIdentityToken, "Missing a required claim: sub"},
		{"sub empty", func(c map[string]any) { c["sub"] = "" }, InvalidIdentityToken, "Missing a required claim: sub"},
		{"sub number", func(c map[string]any) { c["sub"] = 12 }, InvalidIdentityToken, msgBadClaim + "sub"},
		{"exp missing", func(c map[string]any) { delete(c, "exp") }, InvalidIdentityToken, "Missing a required claim: exp"},
		{"exp string", func(c map[string]any) { c["exp"] = "9999999999" }, InvalidIdentityToken, msgBadClaim + "exp"},
		{"exp bool", func(c map[string]any) { c["exp"] = true }, InvalidIdentityToken, msgBadClaim + "exp"},
		{"exp null", func(c map[string]any) { c["exp"] = nil }, InvalidIdentityToken, msgBadClaim + "exp"},
		{"exp huge 1e30", func(c map[string]any) { c["exp"] = json.Number("1e30") }, InvalidIdentityToken, msgBadClaim + "exp"},
		{"exp 1e400", func(c map[string]any) { c["exp"] = json.Number("1e400") }, InvalidIdentityToken, msgBadClaim + "exp"},
		{"exp beyond int64", func(c map[string]any) { c["exp"] = json.Number("99999999999999999999") }, InvalidIdentityToken, msgBadClaim + "exp"},
		{"exp float accepted", func(c map[string]any) { c["exp"] = json.Number(fmt.Sprintf("%d.5", now+60)) }, "", ""},
		{"exp exponent form accepted", func(c map[string]any) { c["exp"] = json.Number("1.80000006e9") }, "", ""},
		{"exp within 5 min skew", func(c map[string]any) { c["exp"] = now - 299 }, "", ""},
		{"exp at skew edge", func(c map[string]any) { c["exp"] = now - 300 }, "", ""},
		{"exp past skew", func(c map[string]any) { c["exp"] = now - 301 }, ExpiredTokenException,
			fmt.Sprintf("Token expired: current date/time %d must be before the expiration date/time %d", now, now-301)},
		{"exp negative", func(c map[string]any) { c["exp"] = -1 }, ExpiredTokenException, ""},
		{"nbf future", func(c map[string]any) { c["nbf"] = now + 301 }, InvalidIdentityToken, msgNotYetValid},
		{"nbf future within skew", func(c map[string]any) { c["nbf"] = now + 299 }, "", ""},
		{"nbf string", func(c map[string]any) { c["nbf"] = "1" }, InvalidIdentityToken, msgBadClaim + "nbf"},
		{"iat future", func(c map[string]any) { c["iat"] = now + 3600 }, InvalidIdentityToken, msgIssuedAhead},
		{"iat string", func(c map[string]any) { c["iat"] = "x" }, InvalidIdentityToken, msgBadClaim + "iat"},
		{"amr number", func(c map[string]any) { c["amr"] = 3 }, InvalidIdentityToken, msgBadClaim + "amr"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			claims := gitlabClaims(iss)
			c.mutate(claims)
			_, err := f.v.Verify(bg, mint(t, f.rsaKey, claims))
			if c.code == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantCode(t, err, c.code, c.msg)
		})
	}
}

// TestSignatureBeforeTime: an expired token with a bad signature is called invalid,
// never expired (CVE-2024-51744 class).
func TestSignatureBeforeTime(t *testing.T) {
	f := newFixture(t)
	claims := gitlabClaims(f.idp.url)
	claims["exp"] = epoch.Unix() - 3600
	tok := mint(t, f.rsaKey, claims)
	h, p, s := splitToken(tok)
	sig, _ := decodeB64(s)
	sig[10] ^= 1
	_, err := f.v.Verify(bg, h+"."+p+"."+b64(sig))
	wantCode(t, err, InvalidIdentityToken, msgSignature)
	// And authentic + expired is ExpiredTokenException.
	_, err = f.v.Verify(bg, tok)
	wantCode(t, err, ExpiredTokenException, "")
}

func TestKeySelection(t *testing.T) {
	f := newFixture(t)
	claims := mustJSON(gitlabClaims(f.idp.url))
	other := newRSATestKey(t, "rsa-1", 1) // same kid, different key: forged
	highS := highSToken(t, f.ecKey, claims)
	cases := []struct {
		name  string
		token string
		code  Code
		msg   string
	}{
		{"wrong kid", signRaw(t, f.rsaKey, "RS256", `{"alg":"RS256","kid":"nope"}`, claims), InvalidIdentityToken, msgNoKey},
		{"kid path traversal", signRaw(t, f.rsaKey, "RS256", `{"alg":"RS256","kid":"../../dev/null"}`, claims), InvalidIdentityToken, msgNoKey},
		{"kid proc environ", signRaw(t, f.rsaKey, "RS256", `{"alg":"RS256","kid":"/proc/self/environ"}`, claims), InvalidIdentityToken, msgNoKey},
		{"kid SQL", signRaw(t, f.rsaKey, "RS256", `{"alg":"RS256","kid":"' OR 1=1--"}`, claims), InvalidIdentityToken, msgNoKey},
		{"kid NUL", signRaw(t, f.rsaKey, "RS256", `{"alg":"RS256","kid":"rsa-1\u0000"}`, claims), InvalidIdentityToken, msgNoKey},
		{"kid URL", signRaw(t, f.rsaKey, "RS256", `{"alg":"RS256","kid":"https://evil.example/k"}`, claims), InvalidIdentityToken, msgNoKey},
		{"no kid", signRaw(t, f.rsaKey, "RS256", `{"alg":"RS256"}`, claims), InvalidIdentityToken, msgNoKey},
		{"signed by another key", signRaw(t, other, "RS256", `{"alg":"RS256","kid":"rsa-1"}`, claims), InvalidIdentityToken, msgSignature},
		{"RS256 header on EC key", signRaw(t, f.rsaKey, "RS256", `{"alg":"RS256","kid":"ec-1"}`, claims), InvalidIdentityToken, msgSignature},
		{"ES256 header on RSA key", signRaw(t, f.ecKey, "ES256", `{"alg":"ES256","kid":"rsa-1"}`, claims), InvalidIdentityToken, msgSignature},
		{"RS384 on RS256-declared key", signRaw(t, f.rsaKey, "RS384", `{"alg":"RS384","kid":"rsa-1"}`, claims), InvalidIdentityToken, msgSignature},
		{"ES256 high S accepted", highS, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := f.v.Verify(bg, c.token)
			if c.code == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantCode(t, err, c.code, c.msg)
		})
	}
}

// highSToken signs, then replaces s by n-s if s is low, so the signature has a high S.
func highSToken(t *testing.T, k *testKey, claims string) string {
	tok := signRaw(t, k, "ES256", `{"alg":"ES256","kid":"ec-1"}`, claims)
	h, p, s := splitToken(tok)
	sig, _ := decodeB64(s)
	n := k.priv.(*ecdsa.PrivateKey).Curve.Params().N
	sv := new(big.Int).SetBytes(sig[32:])
	if sv.Cmp(new(big.Int).Rsh(n, 1)) <= 0 {
		sv.Sub(n, sv)
	}
	sv.FillBytes(sig[32:])
	return h + "." + p + "." + b64(sig)
}

func TestJWKSKeyFiltering(t *testing.T) {
	good := newRSATestKey(t, "good", 0)
	testRSAKey(t, 0)
	weak := &testKey{kid: "weak", alg: "RS256", priv: rsa1024}
	ecGood := newECTestKey(t, "ec", "ES256")
	dup1 := newRSATestKey(t, "dup", 1)
	dup2 := newRSATestKey(t, "dup", 2)
	encKey := newRSATestKey(t, "enc", 1)
	encJWK := strings.Replace(encKey.jwkJSON(), `"use":"sig"`, `"use":"enc"`, 1)
	e1 := newRSATestKey(t, "e1", 1)
	e1JWK := strings.Replace(e1.jwkJSON(), `"e":"AQAB"`, `"e":"AQ"`, 1)
	evenE := newRSATestKey(t, "even", 1)
	evenJWK := strings.Replace(evenE.jwkJSON(), `"e":"AQAB"`, `"e":"AQAA"`, 1)
	offCurve := newECTestKey(t, "off", "ES256")
	offJWK := offCurve.jwkJSON()
	// Replace y by x: almost surely off the curve.
	var m map[string]any
	_ = json.Unmarshal([]byte(offJWK), &m)
	m["y"] = m["x"]
	offJWK = mustJSON(m)
	wrongCrv := newECTestKey(t, "crv", "ES256")
	wrongCrvJWK := strings.Replace(wrongCrv.jwkJSON(), `"P-256"`, `"P-384"`, 1)

	body := `{"keys":[` + strings.Join([]string{good.jwkJSON(), weak.jwkJSON(), ecGood.jwkJSON(), dup1.jwkJSON(), dup2.jwkJSON(),
		encJWK, e1JWK, evenJWK, offJWK, wrongCrvJWK, `"not an object"`, `{"kty":"oct","k":"c2VjcmV0","kid":"hmac"}`}, ",") + `]}`
	idp := newTestIdP(t)
	idp.setJWKS(body)
	v := newTestVerifier(t, newTestClock(epoch), idp.provider())
	cases := []struct {
		name string
		key  *testKey
		ok   bool
	}{
		{"RSA-2048 used", good, true},
		{"EC P-256 used", ecGood, true},
		{"RSA-1024 skipped", weak, false},
		{"duplicate kid unusable", dup1, false},
		{"use enc skipped", encKey, false},
		{"e=1 skipped", e1, false},
		{"even e skipped", evenE, false},
		{"off-curve point skipped", offCurve, false},
		{"crv mismatch skipped", wrongCrv, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := v.Verify(bg, mint(t, c.key, gitlabClaims(idp.url)))
			if c.ok {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantCode(t, err, InvalidIdentityToken, "")
		})
	}
	hs := hs256([]byte("secret"), b64([]byte(`{"alg":"HS256","kid":"hmac"}`))+"."+b64([]byte(mustJSON(gitlabClaims(idp.url)))))
	_, err := v.Verify(bg, hs)
	wantCode(t, err, InvalidIdentityToken, "")
}
