package cloudtrail

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/oidcfed/oidcfed/internal/store"
)

// FuzzLookupRequest feeds LookupEvents bodies to the request decoder and
// validator: any input is either refused with a client error or yields a
// bounded query; nothing panics.
//
//	go test -fuzz FuzzLookupRequest ./internal/audit/cloudtrail/
func FuzzLookupRequest(f *testing.F) {
	for _, seed := range []string{
		`{}`,
		`{"LookupAttributes":[{"AttributeKey":"EventName","AttributeValue":"AssumeRoleWithWebIdentity"}],"MaxResults":50}`,
		`{"StartTime":1.7e9,"EndTime":1800000000.5,"NextToken":"eyJ0IjowfQ"}`,
		`{"LookupAttributes":[{"AttributeKey":"ReadOnly","AttributeValue":"maybe"}]}`,
		`{"MaxResults":"ten"}`,
		`{"EventCategory":"insight"}`,
	} {
		f.Add([]byte(seed))
	}
	h := &Handler{}
	f.Fuzz(func(t *testing.T, body []byte) {
		var req lookupRequest
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		if dec.Decode(&req) != nil {
			return
		}
		q, _, e := h.query(&req)
		if e != nil {
			if e.HTTPStatus != 400 || e.Code == "" {
				t.Fatalf("refusal %+v is not a client error", e)
			}
			return
		}
		if q.Limit < 2 || q.Limit > maxResults+1 {
			t.Fatalf("query limit %d", q.Limit)
		}
	})
}

func TestLookupValidation(t *testing.T) {
	cases := []struct {
		name, body, code string
	}{
		{"empty", `{}`, ""},
		{"one attribute", `{"LookupAttributes":[{"AttributeKey":"Username","AttributeValue":"root"}]}`, ""},
		{"two attributes", `{"LookupAttributes":[{"AttributeKey":"Username","AttributeValue":"a"},{"AttributeKey":"EventName","AttributeValue":"b"}]}`, "InvalidLookupAttributesException"},
		{"unknown key", `{"LookupAttributes":[{"AttributeKey":"Nope","AttributeValue":"a"}]}`, "InvalidLookupAttributesException"},
		{"missing value", `{"LookupAttributes":[{"AttributeKey":"Username"}]}`, "InvalidLookupAttributesException"},
		{"read-only not a bool", `{"LookupAttributes":[{"AttributeKey":"ReadOnly","AttributeValue":"yes"}]}`, "InvalidLookupAttributesException"},
		{"start after end", `{"StartTime":20,"EndTime":10}`, "InvalidTimeRangeException"},
		{"negative time", `{"StartTime":-1}`, "InvalidTimeRangeException"},
		{"max results 0", `{"MaxResults":0}`, "InvalidMaxResultsException"},
		{"max results 51", `{"MaxResults":51}`, "InvalidMaxResultsException"},
		{"max results 50", `{"MaxResults":50}`, ""},
		{"bad category", `{"EventCategory":"data"}`, "InvalidEventCategoryException"},
		{"bad token", `{"NextToken":"!!"}`, "InvalidNextTokenException"},
	}
	h := &Handler{}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var req lookupRequest
			dec := json.NewDecoder(bytes.NewReader([]byte(tc.body)))
			dec.UseNumber()
			if err := dec.Decode(&req); err != nil {
				t.Fatal(err)
			}
			_, _, e := h.query(&req)
			got := ""
			if e != nil {
				got = e.Code
			}
			if got != tc.code {
				t.Fatalf("code %q, want %q (%v)", got, tc.code, e)
			}
		})
	}
}

// A token carries the parameters it was issued for.
func TestNextTokenBoundToParameters(t *testing.T) {
	h := &Handler{}
	var req lookupRequest
	_ = json.Unmarshal([]byte(`{"LookupAttributes":[{"AttributeKey":"Username","AttributeValue":"root"}]}`), &req)
	_, params, _ := h.query(&req)
	tok := encodeToken(params, storePosition())
	if _, ok := decodeToken(tok, params); !ok {
		t.Fatal("own token refused")
	}
	other := map[string]any{"maxResults": int64(5)}
	if _, ok := decodeToken(tok, other); ok {
		t.Fatal("token accepted with other parameters")
	}
}

func storePosition() store.AuditPosition {
	return store.AuditPosition{Time: time.Unix(1_800_000_000, 5).UTC(), Writer: "w", Seq: 9}
}
