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
