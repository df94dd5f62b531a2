package api

import (
	"encoding/base64"

	"github.com/oidcfed/oidcfed/internal/awsproto"
)

// The Sign request and response are the KMS calls a signing pipeline makes
// over and over; encoding/json's reflection was a tenth of their overhead
// past the signature itself. These fast paths handle the plain shapes SDKs
// send and fall back to encoding/json for anything else, so the result is
// always what encoding/json gives (FuzzSignRequestFastPath,
// TestSignResponseJSON).

// decodeSignRequestFast decodes body into in when body is a flat JSON
// object whose members are exactly-named signRequest strings without
// escapes, control or non-ASCII characters; it reports false, leaving in
// untouched, for everything else.
func decodeSignRequestFast(body []byte, in *signRequest) bool {
	var out signRequest
	i := skipJSONSpace(body, 0)
	if i == len(body) || body[i] != '{' {
		return false
	}
	i = skipJSONSpace(body, i+1)
	if i < len(body) && body[i] == '}' {
		return false // {} is rare: not worth a case here
	}
	for {
		key, next, ok := plainJSONString(body, i)
		if !ok {
			return false
		}
		i = skipJSONSpace(body, next)
		if i == len(body) || body[i] != ':' {
			return false
		}
		value, next, ok := plainJSONString(body, skipJSONSpace(body, i+1))
		if !ok {
			return false
		}
		// Exact names only: encoding/json also matches other spellings
		// case-insensitively, and ignores unknown members; both go the slow
		// way.
		switch string(key) {
		case "KeyId":
			out.KeyID = string(value)
		case "MessageType":
			out.MessageType = knownValue(value)
		case "SigningAlgorithm":
			out.SigningAlgorithm = knownValue(value)
		case "Message":
			if out.Message, ok = jsonBytes(value); !ok {
				return false
			}
		case "Signature":
			if out.Signature, ok = jsonBytes(value); !ok {
				return false
			}
		default:
			return false
		}
		i = skipJSONSpace(body, next)
		if i == len(body) {
			return false
		}
		switch body[i] {
		case ',':
			i = skipJSONSpace(body, i+1)
			continue
		case '}':
			if skipJSONSpace(body, i+1) != len(body) {
				return false
			}
			*in = out
			return true
		}
		return false
	}
}

// knownValue is string(b), without an allocation for the values KMS
// defines (the switch compares without converting).
func knownValue(b []byte) string {
	switch string(b) {
	case "RAW":
		return "RAW"
	case "DIGEST":
		return "DIGEST"
	case "ECDSA_SHA_256":
		return "ECDSA_SHA_256"
	case "ECDSA_SHA_384":
		return "ECDSA_SHA_384"
	case "ECDSA_SHA_512":
		return "ECDSA_SHA_512"
	case "RSASSA_PSS_SHA_256":
		return "RSASSA_PSS_SHA_256"
	case "RSASSA_PSS_SHA_384":
		return "RSASSA_PSS_SHA_384"
	case "RSASSA_PSS_SHA_512":
		return "RSASSA_PSS_SHA_512"
	case "RSASSA_PKCS1_V1_5_SHA_256":
		return "RSASSA_PKCS1_V1_5_SHA_256"
	case "RSASSA_PKCS1_V1_5_SHA_384":
		return "RSASSA_PKCS1_V1_5_SHA_384"
	case "RSASSA_PKCS1_V1_5_SHA_512":
		return "RSASSA_PKCS1_V1_5_SHA_512"
	}
	return string(b)
}

func skipJSONSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// plainJSONString reads a JSON string at b[i:] made of printable ASCII
// only, without escapes (so its bytes are its value), and returns its
// content and the index after its closing quote.
func plainJSONString(b []byte, i int) (s []byte, next int, ok bool) {
	if i >= len(b) || b[i] != '"' {
		return nil, 0, false
	}
	for j := i + 1; j < len(b); j++ {
		if !plainStringByte[b[j]] {
			if b[j] == '"' {
				return b[i+1 : j], j + 1, true
			}
			return nil, 0, false
		}
	}
	return nil, 0, false
}

// plainStringByte holds the bytes a plain JSON string is made of: printable
// ASCII but the quote and the backslash.
var plainStringByte = func() (t [256]bool) {
	for c := 0x20; c <= 0x7e; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// jsonBytes decodes a []byte member as encoding/json does: standard base64
// into a new slice (non-nil even when empty).
func jsonBytes(s []byte) ([]byte, bool) {
	b := make([]byte, base64.StdEncoding.DecodedLen(len(s)))
	n, err := base64.StdEncoding.Decode(b, s)
	return b[:n], err == nil
}

// appendJSON writes the Sign response as json.Marshal does.
func (r signResponse) appendJSON(b []byte) []byte {
	b = append(b, `{"KeyId":`...)
	b = appendJSONString(b, r.KeyID)
	b = append(b, `,"Signature":`...)
	if r.Signature == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '"')
		b = base64.StdEncoding.AppendEncode(b, r.Signature)
		b = append(b, '"')
	}
	b = append(b, `,"SigningAlgorithm":`...)
	b = appendJSONString(b, r.SigningAlgorithm)
	return append(b, '}')
}

// appendJSONString appends s quoted as json.Marshal quotes it (HTML
// characters escaped).
func appendJSONString(b []byte, s string) []byte { return awsproto.AppendJSONString(b, s, true) }
