package api

import (
	"testing"

	"github.com/oidcfed/oidcfed/internal/kms"
)

// FuzzKMSRequest feeds request bodies to the JSON decoding of every
// request shape the operations read: a body either decodes or is refused
// with SerializationException; nothing panics.
//
//	go test -fuzz FuzzKMSRequest ./internal/kms/api/
func FuzzKMSRequest(f *testing.F) {
	for _, seed := range []string{
		`{}`, ``, `{"KeyId":"alias/x","Message":"aGVsbG8=","SigningAlgorithm":"ECDSA_SHA_256","MessageType":"DIGEST"}`,
		`{"KeyId":7}`, `{"Message":"not base64!"}`, `{"EncryptionContext":{"a":1}}`, `{"NumberOfBytes":1e400}`,
		`{"Tags":[{"TagKey":"k","TagValue":"v"}],"Policy":"{}"}`, `[`, `{"Limit":-1,"Marker":null}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		c := &call{body: body}
		targets := []any{&keyRequest{}, &signRequest{}, &cipherRequest{}, &aliasRequest{},
			&struct {
				Limit  *int
				Marker string
			}{}, &struct{ Tags []kms.Tag }{}}
		for _, v := range targets {
			if err := decode(c, v); err != nil {
				if ke, ok := err.(*kms.Error); !ok || ke.Code != kms.CodeSerialization {
					t.Fatalf("decode: %v", err)
				}
			}
		}
	})
}
