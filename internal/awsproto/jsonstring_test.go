package awsproto

import (
	"bytes"
	"encoding/json"
	"testing"
)

func encodingJSONString(t testing.TB, s string, escapeHTML bool) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(escapeHTML)
	if err := enc.Encode(s); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

var jsonStringCases = map[string]string{
	"empty": "", "plain": "alias/ci-signing", "quote and backslash": `a"b\c`,
	"named controls": "\b\f\n\r\t", "other controls": "\x00\x01\x1f\x7f", "html": "<a href='x'>&amp;</a>",
	"multibyte": "é ü 😀", "invalid utf-8": "bad \xff\xfe end", "line separators": "\u2028 \u2029", "truncated rune": "tail \xc3",
}

func TestAppendJSONStringMatchesEncodingJSON(t *testing.T) {
	for name, s := range jsonStringCases {
		for _, html := range []bool{false, true} {
			if got, want := AppendJSONString(nil, s, html), encodingJSONString(t, s, html); !bytes.Equal(got, want) {
				t.Errorf("%s (escapeHTML %v): %s, encoding/json %s", name, html, got, want)
			}
		}
	}
}

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range jsonStringCases {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, s string, html bool) {
		if got, want := AppendJSONString(nil, s, html), encodingJSONString(t, s, html); !bytes.Equal(got, want) {
			t.Fatalf("%q (escapeHTML %v): %s, encoding/json %s", s, html, got, want)
		}
	})
}

// TestAppendJSONStringEveryOffset puts each kind of byte the 8-byte fast
// path must notice at every offset of a longer plain string, on both sides
// of the word boundaries, and checks the result against encoding/json.
func TestAppendJSONStringEveryOffset(t *testing.T) {
	specials := map[string]string{
		"quote": `"`, "backslash": `\`, "NUL": "\x00", "below space": "\x1f", "space": " ", "DEL": "\x7f",
		"invalid byte": "\x80", "high byte": "\xff", "two-byte rune": "é", "line separator": "\u2028", "html": "<",
	}
	const plain = "abcdefghijklmnopqrstuvwx"
	for name, sp := range specials {
		for off := 0; off <= len(plain); off++ {
			s := plain[:off] + sp + plain[off:]
			for _, html := range []bool{false, true} {
				if got, want := AppendJSONString(nil, s, html), encodingJSONString(t, s, html); !bytes.Equal(got, want) {
					t.Errorf("%s at %d (escapeHTML %v): %s, encoding/json %s", name, off, html, got, want)
				}
			}
		}
	}
}
