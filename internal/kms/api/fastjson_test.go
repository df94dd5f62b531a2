package api

import (
	"encoding/json"
	"reflect"
	"testing"
)

var signRequestSeeds = []string{
	`{"KeyId":"alias/ci-signing","Message":"47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=","MessageType":"DIGEST","SigningAlgorithm":"ECDSA_SHA_256"}`,
	` { "KeyId" : "k" , "Message" : "" , "Signature":"AAEC" }` + "\n",
	`{"KeyId":"a","KeyId":"b","Message":"aGk=","Message":"aGVsbG8="}`,
	`{"keyid":"lower-case name"}`, `{"KeyId":"k","Other":"ignored by encoding/json"}`, `{"Message":"not base64!"}`,
	`{"Message":"aGVsbG8"}`, `{"Message":"aGVs\nbG8="}`, `{"KeyId":"\u0041"}`, `{"KeyId":"é"}`, `{"KeyId":null}`,
	`{"DryRun":true,"KeyId":"k"}`, `{"KeyId":"k"} x`, `{"KeyId":"k",}`, `{"KeyId" "k"}`, `{}`, ``, `[]`, `{"KeyId":"k"`,
	`{"KeyId":7}`, `{"Message":"<>&"}`, "{\"KeyId\":\"k\"}\t\r\n",
}

// The Sign request fast path decodes exactly what encoding/json decodes,
// or declines.
func FuzzSignRequestFastPath(f *testing.F) {
	for _, s := range signRequestSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		checkSignRequestFastPath(t, body)
	})
}

func TestSignRequestFastPath(t *testing.T) {
	accepted := 0
	for _, s := range signRequestSeeds {
		if checkSignRequestFastPath(t, []byte(s)) {
			accepted++
		}
	}
	if accepted < 4 {
		t.Errorf("the fast path took %d of the seeds", accepted)
	}
}

func checkSignRequestFastPath(t *testing.T, body []byte) bool {
	t.Helper()
	fast := signRequest{KeyID: "untouched"}
	if !decodeSignRequestFast(body, &fast) {
		if fast.KeyID != "untouched" {
			t.Fatalf("%q: declined but wrote %+v", body, fast)
		}
		return false
	}
	var slow signRequest
	if err := json.Unmarshal(body, &slow); err != nil {
		t.Fatalf("%q: fast path accepted what encoding/json refuses: %v", body, err)
	}
	if !reflect.DeepEqual(fast, slow) {
		t.Fatalf("%q:\nfast %#v\njson %#v", body, fast, slow)
	}
	return true
}

// The Sign response is written as json.Marshal writes it.
func TestSignResponseJSON(t *testing.T) {
	for _, r := range []signResponse{
		{KeyID: "arn:aws:kms:us-east-1:000000000000:key/1234abcd-12ab-34cd-56ef-1234567890ab", Signature: []byte{0x30, 0x45, 0, 255}, SigningAlgorithm: "ECDSA_SHA_256"},
		{},
		{KeyID: `<a&b>"\`, Signature: []byte{}, SigningAlgorithm: "é\u2028\x01"},
		{KeyID: "k", Signature: make([]byte, 512), SigningAlgorithm: "RSASSA_PSS_SHA_512"},
	} {
		want, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.appendJSON([]byte("prefix")); string(got) != "prefix"+string(want) {
			t.Errorf("appendJSON\n got %s\nwant prefix%s", got, want)
		}
	}
}
