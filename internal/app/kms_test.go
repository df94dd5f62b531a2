package app_test

import (
	"bytes"
	"cmp"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/oidcfed/oidcfed/internal/app"
)

// kmsWorld is a dev server with its demo signing key and roles, and the
// aws CLI environment for it.
type kmsWorld struct {
	*stsWorld
	root    []string // the account root's key
	account string   // "" is the dev default, 000000000000
}

func newKMSWorld(t *testing.T) *kmsWorld {
	t.Helper()
	hermeticEnv(t)
	dir := t.TempDir()
	s := startDev(t, dir, "127.0.0.1:0", nil)
	env := app.ReadEnvFile(filepath.Join(dir, app.DevEnvFileName))
	home := t.TempDir()
	writeFile(t, filepath.Join(home, "config"), []byte("[default]\ncli_follow_urlparam = false\n"), 0o600)
	return &kmsWorld{stsWorld: &stsWorld{testServer: s, home: home},
		root: []string{"AWS_ACCESS_KEY_ID=" + env["AWS_ACCESS_KEY_ID"], "AWS_SECRET_ACCESS_KEY=" + env["AWS_SECRET_ACCESS_KEY"]}}
}

// session assumes role with a job token for project on ref and returns
// the credentials as environment entries.
func (w *kmsWorld) session(t *testing.T, role, project, ref string, protected bool) []string {
	t.Helper()
	req := basicRequest(w.Issuer)
	req["project_path"], req["ref"] = project, ref
	if protected {
		req["ref_protected"] = "true"
	}
	tok := w.mint(t, req)
	out, stderr, err := w.bash(t, `aws sts assume-role-with-web-identity --role-arn "$ROLE" --role-session-name kms-test --web-identity-token "$TOK" --output json`,
		"ROLE=arn:aws:iam::"+cmp.Or(w.account, "000000000000")+":role/"+role, "TOK="+tok)
	if err != nil {
		t.Fatalf("assume %s as %s@%s: %v\n%s", role, project, ref, err, stderr)
	}
	var resp struct {
		Credentials struct{ AccessKeyId, SecretAccessKey, SessionToken string }
	}
	if err := json.Unmarshal([]byte(out), &resp); err != nil {
		t.Fatal(err)
	}
	c := resp.Credentials
	return []string{"AWS_ACCESS_KEY_ID=" + c.AccessKeyId, "AWS_SECRET_ACCESS_KEY=" + c.SecretAccessKey, "AWS_SESSION_TOKEN=" + c.SessionToken}
}

// TestKMSSignVerifyWithAWSCLI: a job on protected main signs with the dev
// key through the gitlab-sign role; the signature verifies with the public
// key KMS hands out (checked here with Go's crypto, independently of KMS)
// and with kms verify through gitlab-verify from a feature branch, which
// cannot sign.
func TestKMSSignVerifyWithAWSCLI(t *testing.T) {
	w := newKMSWorld(t)
	digest := sha256.Sum256([]byte("the image manifest"))
	work := t.TempDir()
	writeFile(t, filepath.Join(work, "digest"), digest[:], 0o600)

	signer := w.session(t, app.DevSignRole, "mygroup/myproject", "main", true)
	out, stderr, err := w.bash(t, `cd "$WORK" && aws kms sign --key-id alias/ci-signing --message fileb://digest --message-type DIGEST \
  --signing-algorithm ECDSA_SHA_256 --query Signature --output text > sig.b64 && base64 -d sig.b64 > sig &&
aws kms get-public-key --key-id alias/ci-signing --query PublicKey --output text`, append(signer, "WORK="+work)...)
	if err != nil {
		t.Fatalf("sign: %v\n%s", err, stderr)
	}
	der, err := base64.StdEncoding.DecodeString(strings.TrimSpace(out))
	if err != nil {
		t.Fatal(err)
	}
	pub, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		t.Fatal(err)
	}
	sig := readFile(t, filepath.Join(work, "sig"))
	if !ecdsa.VerifyASN1(pub.(*ecdsa.PublicKey), digest[:], sig) {
		t.Fatal("the KMS signature does not verify with the KMS public key")
	}

	verifier := w.session(t, app.DevVerifyRole, "mygroup/other", "feature-x", false)
	if _, stderr, err := w.bash(t, `cd "$WORK" && aws kms verify --key-id alias/ci-signing --message fileb://digest --message-type DIGEST \
  --signing-algorithm ECDSA_SHA_256 --signature fileb://sig --query SignatureValid --output text | grep -qx True`, append(verifier, "WORK="+work)...); err != nil {
		t.Fatalf("verify as gitlab-verify: %v\n%s", err, stderr)
	}
	_, stderr, err = w.bash(t, `cd "$WORK" && aws kms sign --key-id alias/ci-signing --message fileb://digest --message-type DIGEST --signing-algorithm ECDSA_SHA_256`,
		append(verifier, "WORK="+work)...)
	if err == nil || !strings.Contains(stderr, "AccessDeniedException") ||
		!strings.Contains(stderr, "is not authorized to perform: kms:Sign on resource: arn:aws:kms:us-east-1:000000000000:key/") {
		t.Fatalf("sign as gitlab-verify: err %v\n%s", err, stderr)
	}
	// The audit trail has the signature and the refusal, never the message.
	var sign, refused map[string]any
	for _, ev := range auditEvents(t, w.AuditRecords) {
		if path(ev, "eventName") == "Sign" {
			if path(ev, "errorCode") == nil {
				sign = ev
			} else {
				refused = ev
			}
		}
	}
	if sign == nil || refused == nil || path(sign, "eventSource") != "kms.amazonaws.com" ||
		path(sign, "requestParameters", "signingAlgorithm") != "ECDSA_SHA_256" || path(sign, "requestParameters", "message") != nil ||
		path(sign, "userIdentity", "sessionContext", "sessionIssuer", "userName") != app.DevSignRole ||
		path(refused, "errorCode") != "AccessDeniedException" {
		t.Fatalf("Sign events: %v\n%v", sign, refused)
	}

	// An unprotected main may not take the signing role at all.
	req := basicRequest(w.Issuer)
	tok := w.mint(t, req)
	if _, stderr, err := w.bash(t, `aws sts assume-role-with-web-identity --role-arn "$ROLE" --role-session-name x1 --web-identity-token "$TOK"`,
		"ROLE=arn:aws:iam::000000000000:role/"+app.DevSignRole, "TOK="+tok); err == nil || !strings.Contains(stderr, "AccessDenied") {
		t.Fatalf("sign role from an unprotected ref: %v\n%s", err, stderr)
	}
}

// TestKMSBadInput: each refusal is KMS's exception, and the key is still
// usable afterwards.
func TestKMSBadInput(t *testing.T) {
	w := newKMSWorld(t)
	work := t.TempDir()
	writeFile(t, filepath.Join(work, "big"), make([]byte, 4097), 0o600)
	writeFile(t, filepath.Join(work, "short"), make([]byte, 31), 0o600)
	writeFile(t, filepath.Join(work, "msg"), []byte("hello"), 0o600)
	setup := `set -e; cd "$WORK"
aws kms create-key --key-spec RSA_2048 --key-usage SIGN_VERIFY --query KeyMetadata.KeyId --output text
aws kms create-key --query KeyMetadata.KeyId --output text
aws kms create-key --query KeyMetadata.KeyId --output text`
	out, stderr, err := w.bash(t, setup, append(w.root, "WORK="+work)...)
	if err != nil {
		t.Fatalf("setup: %v\n%s", err, stderr)
	}
	ids := strings.Fields(out)
	rsaKey, symKey, symKey2 := ids[0], ids[1], ids[2]
	cases := []struct {
		name, script, want string
	}{
		{"raw message over 4096 bytes", `aws kms sign --key-id alias/ci-signing --message fileb://big --signing-algorithm ECDSA_SHA_256`, "ValidationException"},
		{"digest of the wrong length", `aws kms sign --key-id alias/ci-signing --message fileb://short --message-type DIGEST --signing-algorithm ECDSA_SHA_256`, "ValidationException"},
		{"algorithm of another key spec", `aws kms sign --key-id alias/ci-signing --message fileb://msg --signing-algorithm RSASSA_PSS_SHA_256`, "InvalidKeyUsageException"},
		{"unknown alias", `aws kms sign --key-id alias/nope --message fileb://msg --signing-algorithm ECDSA_SHA_256`, "NotFoundException"},
		{"unknown key id", `aws kms describe-key --key-id 11111111-2222-4333-8444-555555555555`, "NotFoundException"},
		{"key ARN of another account", `aws kms describe-key --key-id arn:aws:kms:us-east-1:111122223333:key/11111111-2222-4333-8444-555555555555`, "NotFoundException"},
		{"invalid signature", `aws kms verify --key-id alias/ci-signing --message fileb://msg --signature fileb://msg --signing-algorithm ECDSA_SHA_256`, "KMSInvalidSignatureException"},
		{"a key spec not served", `aws kms create-key --key-spec SM2 --key-usage SIGN_VERIFY`, "UnsupportedOperationException"},
		{"tampered ciphertext", `aws kms encrypt --key-id "$SYMKEY" --plaintext fileb://msg --query CiphertextBlob --output text | python3 -c 'import sys, base64; b = bytearray(base64.b64decode(sys.stdin.read())); b[-1] ^= 1; open("tampered", "wb").write(b)' && aws kms decrypt --ciphertext-blob fileb://tampered`, "InvalidCiphertextException"},
		{"another encryption context", `aws kms encrypt --key-id "$SYMKEY" --plaintext fileb://msg --encryption-context app=a --query CiphertextBlob --output text | base64 -d > ct && aws kms decrypt --ciphertext-blob fileb://ct --encryption-context app=b`, "InvalidCiphertextException"},
		{"ciphertext of another key", `aws kms encrypt --key-id "$SYMKEY" --plaintext fileb://msg --query CiphertextBlob --output text | base64 -d > ct2 && aws kms decrypt --ciphertext-blob fileb://ct2 --key-id "$SYMKEY2"`, "IncorrectKeyException"},
		{"encrypt with a signing key", `aws kms encrypt --key-id alias/ci-signing --plaintext fileb://msg`, "InvalidKeyUsageException"},
		{"data key of both sizes", `aws kms generate-data-key --key-id "$SYMKEY" --number-of-bytes 32 --key-spec AES_256`, "ValidationException"},
		{"usage that does not fit the spec", `aws kms create-key --key-spec ECC_NIST_P256 --key-usage ENCRYPT_DECRYPT`, "ValidationException"},
		{"alias taken", `aws kms create-alias --alias-name alias/ci-signing --target-key-id "$RSAKEY"`, "AlreadyExistsException"},
		{"reserved alias", `aws kms create-alias --alias-name alias/aws/x --target-key-id "$RSAKEY"`, "InvalidAliasNameException"},
		{"malformed key policy", `aws kms put-key-policy --key-id "$RSAKEY" --policy-name default --policy '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}'`, "MalformedPolicyDocumentException"},
		{"policy that locks the caller out", `aws kms put-key-policy --key-id "$RSAKEY" --policy-name default --policy '{"Version":"2012-10-17","Statement":[{"Sid":"only someone else","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:role/nobody"},"Action":"kms:*","Resource":"*"}]}'`, "MalformedPolicyDocumentException"},
		{"disabled key", `aws kms disable-key --key-id "$RSAKEY" && aws kms sign --key-id "$RSAKEY" --message fileb://msg --signing-algorithm RSASSA_PSS_SHA_256; s=$?; aws kms enable-key --key-id "$RSAKEY"; exit $s`, "DisabledException"},
		{"key pending deletion", `aws kms schedule-key-deletion --key-id "$RSAKEY" --pending-window-in-days 7 >/dev/null && aws kms sign --key-id "$RSAKEY" --message fileb://msg --signing-algorithm RSASSA_PSS_SHA_256; s=$?; aws kms cancel-key-deletion --key-id "$RSAKEY" >/dev/null; aws kms enable-key --key-id "$RSAKEY"; exit $s`, "KMSInvalidStateException"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, err := w.bash(t, `cd "$WORK"; `+tc.script, append(w.root, "WORK="+work, "RSAKEY="+rsaKey, "SYMKEY="+symKey, "SYMKEY2="+symKey2)...)
			if err == nil || !strings.Contains(stderr, "("+tc.want+")") {
				t.Fatalf("err %v, stderr %q, want %s", err, stderr, tc.want)
			}
		})
	}
	// Still usable after every refusal: RSA PSS and PKCS#1 round trips.
	for _, alg := range []string{"RSASSA_PSS_SHA_256", "RSASSA_PKCS1_V1_5_SHA_512"} {
		if _, stderr, err := w.bash(t, `cd "$WORK" && aws kms sign --key-id "$RSAKEY" --message fileb://msg --signing-algorithm "$ALG" --query Signature --output text | base64 -d > rsig &&
aws kms verify --key-id "$RSAKEY" --message fileb://msg --signature fileb://rsig --signing-algorithm "$ALG" >/dev/null`, append(w.root, "WORK="+work, "RSAKEY="+rsaKey, "ALG="+alg)...); err != nil {
			t.Fatalf("%s round trip: %v\n%s", alg, err, stderr)
		}
	}
}

// TestKMSAliasARNInPolicyGrantsNothing: KMS authorizes on the key ARN, so
// an IAM policy whose Resource is an alias ARN (as seed 000 writes it)
// does not let a caller use the key; the key ARN does.
func TestKMSAliasARNInPolicyGrantsNothing(t *testing.T) {
	w := newKMSWorld(t)
	work := t.TempDir()
	writeFile(t, filepath.Join(work, "msg"), []byte("hello"), 0o600)
	out, stderr, err := w.bash(t, `set -e
aws kms describe-key --key-id alias/ci-signing --query KeyMetadata.Arn --output text
aws iam create-user --user-name verifier >/dev/null
aws iam create-access-key --user-name verifier --query 'AccessKey.[AccessKeyId,SecretAccessKey]' --output text`, w.root...)
	if err != nil {
		t.Fatalf("setup: %v\n%s", err, stderr)
	}
	lines := strings.Fields(out)
	keyARN, user := lines[0], []string{"AWS_ACCESS_KEY_ID=" + lines[1], "AWS_SECRET_ACCESS_KEY=" + lines[2]}
	policy := func(resource string) string {
		return `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["kms:GetPublicKey","kms:Verify","kms:DescribeKey"],"Resource":"` + resource + `"}]}`
	}
	for _, tc := range []struct {
		name, resource string
		allowed        bool
	}{
		{"alias ARN", "arn:aws:kms:us-east-1:000000000000:alias/ci-signing", false},
		{"key ARN", keyARN, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, stderr, err := w.bash(t, `aws iam put-user-policy --user-name verifier --policy-name kms --policy-document "$DOC"`, append(w.root, "DOC="+policy(tc.resource))...); err != nil {
				t.Fatalf("put-user-policy: %v\n%s", err, stderr)
			}
			_, stderr, err := w.bash(t, `aws kms get-public-key --key-id alias/ci-signing >/dev/null`, user...)
			if (err == nil) != tc.allowed {
				t.Fatalf("get-public-key allowed=%v, want %v\n%s", err == nil, tc.allowed, stderr)
			}
		})
	}
}

// TestKMSMalformedRequests sends signed KMS and CloudTrail requests no SDK
// would build: a body that is not JSON, a member of the wrong type, an
// operation the service does not have (here). Each gets the JSON
// protocol's error, and the server keeps serving.
func TestKMSMalformedRequests(t *testing.T) {
	w := newKMSWorld(t)
	script := `python3 - "$URL" <<'PY'
import sys, json, urllib.request, boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
url = sys.argv[1]
creds = boto3.Session().get_credentials()
CT = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101."
for service, target, body in [("kms", "TrentService.Sign", "{not json"), ("kms", "TrentService.Sign", '{"KeyId": 7}'), ("kms", "TrentService.Nope", "{}"),
                              ("cloudtrail", CT + "LookupEvents", "{not json"), ("cloudtrail", CT + "LookupEvents", '{"MaxResults": "ten"}'),
                              ("cloudtrail", CT + "StartLogging", "{}")]:
    req = AWSRequest(method="POST", url=url, data=body, headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": target})
    SigV4Auth(creds, service, "us-east-1").add_auth(req)
    r = urllib.request.Request(url, data=body.encode(), headers=dict(req.headers), method="POST")
    try:
        urllib.request.urlopen(r)
        print(target, 200)
    except urllib.error.HTTPError as e:
        print(target, e.code, json.loads(e.read())["__type"])
PY`
	out, stderr, err := w.bash(t, script, append(w.root, "URL="+w.URL+"/")...)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	ct := "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101."
	want := "TrentService.Sign 400 SerializationException\nTrentService.Sign 400 SerializationException\nTrentService.Nope 400 UnknownOperationException\n" +
		ct + "LookupEvents 400 SerializationException\n" + ct + "LookupEvents 400 SerializationException\n" + ct + "StartLogging 400 UnknownOperationException\n"
	if out != want {
		t.Fatalf("got\n%s\nwant\n%s", out, want)
	}
	if res := get(t, w.URL+"/healthz"); res.Status != 200 {
		t.Fatalf("healthz: %d", res.Status)
	}
}

// TestKMSRoundTripsWithBoto3 runs every key spec the server serves through
// boto3: sign and verify with each signing algorithm (the signature also
// checked with the public key by Python's cryptography), encrypt and
// decrypt with an encryption context, data keys, re-encryption to another
// key, random bytes, and MACs.
func TestKMSRoundTripsWithBoto3(t *testing.T) {
	w := newKMSWorld(t)
	script := `python3 - <<'PY'
import boto3, hashlib
from cryptography.hazmat.primitives.serialization import load_der_public_key
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
kms = boto3.client("kms")
H = {"256": hashes.SHA256(), "384": hashes.SHA384(), "512": hashes.SHA512()}
for spec in ["ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521", "ECC_SECG_P256K1", "RSA_2048", "RSA_3072", "RSA_4096"]:
    k = kms.create_key(KeySpec=spec, KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    pub = load_der_public_key(kms.get_public_key(KeyId=k["KeyId"])["PublicKey"])
    for alg in k["SigningAlgorithms"]:
        sig = kms.sign(KeyId=k["KeyId"], Message=b"payload", SigningAlgorithm=alg)["Signature"]
        assert kms.verify(KeyId=k["KeyId"], Message=b"payload", Signature=sig, SigningAlgorithm=alg)["SignatureValid"]
        h = H[alg[-3:]]
        if alg.startswith("ECDSA"):
            pub.verify(sig, b"payload", ec.ECDSA(h))
        elif "PSS" in alg:
            pub.verify(sig, b"payload", padding.PSS(mgf=padding.MGF1(h), salt_length=padding.PSS.AUTO), h)
        else:
            pub.verify(sig, b"payload", padding.PKCS1v15(), h)
    print(spec, len(k["SigningAlgorithms"]))
a = kms.create_key()["KeyMetadata"]["KeyId"]
b = kms.create_key(Description="second")["KeyMetadata"]["KeyId"]
ctx = {"project": "mygroup/myproject"}
ct = kms.encrypt(KeyId=a, Plaintext=b"secret", EncryptionContext=ctx)["CiphertextBlob"]
assert kms.decrypt(CiphertextBlob=ct, EncryptionContext=ctx)["Plaintext"] == b"secret"
dk = kms.generate_data_key(KeyId=a, KeySpec="AES_256", EncryptionContext=ctx)
assert len(dk["Plaintext"]) == 32 and kms.decrypt(CiphertextBlob=dk["CiphertextBlob"], EncryptionContext=ctx)["Plaintext"] == dk["Plaintext"]
nk = kms.generate_data_key_without_plaintext(KeyId=a, NumberOfBytes=64)
assert "Plaintext" not in nk and len(kms.decrypt(CiphertextBlob=nk["CiphertextBlob"])["Plaintext"]) == 64
re = kms.re_encrypt(CiphertextBlob=ct, SourceEncryptionContext=ctx, DestinationKeyId=b)["CiphertextBlob"]
assert kms.decrypt(CiphertextBlob=re, KeyId=b)["Plaintext"] == b"secret"
assert len(kms.generate_random(NumberOfBytes=17)["Plaintext"]) == 17
print("SYMMETRIC_DEFAULT ok")
for spec, alg in [("HMAC_224", "HMAC_SHA_224"), ("HMAC_256", "HMAC_SHA_256"), ("HMAC_384", "HMAC_SHA_384"), ("HMAC_512", "HMAC_SHA_512")]:
    k = kms.create_key(KeySpec=spec, KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]
    assert k["MacAlgorithms"] == [alg]
    mac = kms.generate_mac(KeyId=k["KeyId"], Message=b"m", MacAlgorithm=alg)["Mac"]
    assert kms.verify_mac(KeyId=k["KeyId"], Message=b"m", Mac=mac, MacAlgorithm=alg)["MacValid"]
    try:
        kms.verify_mac(KeyId=k["KeyId"], Message=b"other", Mac=mac, MacAlgorithm=alg)
        raise SystemExit("a wrong MAC verified")
    except kms.exceptions.KMSInvalidMacException:
        pass
    print(spec, "ok")
PY`
	out, stderr, err := w.bash(t, script, w.root...)
	if err != nil {
		t.Fatalf("%v\n%s%s", err, out, stderr)
	}
	for _, want := range []string{"ECC_NIST_P256 1", "ECC_SECG_P256K1 1", "RSA_4096 6", "SYMMETRIC_DEFAULT ok", "HMAC_512 ok"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
}

// TestKMSPlaintextsNeverRecorded: plaintexts, data keys and messages pass
// through KMS calls; none of them reaches the store (audit events
// included) or the log.
func TestKMSPlaintextsNeverRecorded(t *testing.T) {
	hermeticEnv(t)
	dir := t.TempDir()
	var logs lockedBuffer
	s := startDev(t, dir, "127.0.0.1:0", func(o *app.Options) {
		o.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	env := app.ReadEnvFile(filepath.Join(dir, app.DevEnvFileName))
	w := &kmsWorld{stsWorld: &stsWorld{testServer: s, home: t.TempDir()},
		root: []string{"AWS_ACCESS_KEY_ID=" + env["AWS_ACCESS_KEY_ID"], "AWS_SECRET_ACCESS_KEY=" + env["AWS_SECRET_ACCESS_KEY"]}}
	const plaintext = "plaintext-4b1d-never-logged"
	out, stderr, err := w.bash(t, `python3 - <<'PY'
import boto3, base64
kms = boto3.client("kms")
k = kms.create_key()["KeyMetadata"]["KeyId"]
ct = kms.encrypt(KeyId=k, Plaintext=b"`+plaintext+`", EncryptionContext={"a": "b"})["CiphertextBlob"]
assert kms.decrypt(CiphertextBlob=ct, EncryptionContext={"a": "b"})["Plaintext"] == b"`+plaintext+`"
dk = kms.generate_data_key(KeyId=k, KeySpec="AES_256")["Plaintext"]
kms.sign(KeyId="alias/ci-signing", Message=b"`+plaintext+`", SigningAlgorithm="ECDSA_SHA_256")
print(base64.b64encode(dk).decode())
PY`, w.root...)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	dataKey := strings.TrimSpace(out)
	s.stop(t)
	files, _ := filepath.Glob(filepath.Join(dir, "oidcfed.db*"))
	hay := []byte(logs.String())
	for _, f := range files {
		hay = append(hay, readFile(t, f)...)
	}
	for name, secret := range map[string]string{"plaintext": plaintext, "plaintext (base64)": base64.StdEncoding.EncodeToString([]byte(plaintext)),
		"data key (base64)": dataKey} {
		if strings.Contains(string(hay), secret) {
			t.Errorf("the store or the log holds the %s", name)
		}
	}
	if raw, _ := base64.StdEncoding.DecodeString(dataKey); len(raw) != 32 || bytes.Contains(hay, raw) {
		t.Errorf("the store or the log holds the data key's bytes (or the data key is %d bytes)", len(raw))
	}
}
