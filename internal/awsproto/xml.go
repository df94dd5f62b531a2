package awsproto

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/textproto"
	"strconv"
	"sync"
	"unicode/utf8"
)

// XML namespaces of the Query services' responses [model: metadata
// xmlNamespace of each service].
const (
	STSNamespace = "https://sts.amazonaws.com/doc/2011-06-15/"
	IAMNamespace = "https://iam.amazonaws.com/doc/2010-05-08/"
)

// RequestIDHeader is the header AWS names each response's request id in.
// It is set through http.Header, which sends it as "X-Amzn-Requestid":
// header names are case-insensitive (botocore lower-cases them, the Go SDK
// canonicalizes), and keeping Go's canonical key lets every handler and
// test read it back with Header().Get.
const RequestIDHeader = "x-amzn-RequestId"

// NewRequestID returns a random (version 4) UUID, the form of AWS request
// ids.
func NewRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:], b[10:])
	return string(out[:])
}

// XMLWriter builds a Query-protocol XML document indented by two spaces, the
// layout AWS's own responses use. Names are the caller's constants; only
// text is escaped.
type XMLWriter struct {
	buf   bytes.Buffer
	depth int
}

// xmlWriters recycles response writers: an STS response is ~3 KB, and
// under load a fresh buffer per request is most of what the collector has
// to sweep. Buffers grown past maxPooledXML (a large IAM listing) are
// left to the collector rather than kept.
var xmlWriters = sync.Pool{New: func() any { return new(XMLWriter) }}

const maxPooledXML = 64 << 10

func pooledXMLWriter() *XMLWriter { return xmlWriters.Get().(*XMLWriter) }

// release returns x to the pool once its bytes have been written out
// (ResponseWriter.Write does not keep the slice it is given).
func (x *XMLWriter) release() {
	if x.buf.Cap() > maxPooledXML {
		return
	}
	x.buf.Reset()
	x.depth = 0
	xmlWriters.Put(x)
}

func (x *XMLWriter) indent() {
	for range x.depth {
		x.buf.WriteString("  ")
	}
}

// StartRoot opens the document element with its namespace.
func (x *XMLWriter) StartRoot(name, namespace string) {
	x.buf.Grow(4096) // an STS response with a session token is ~2-3 KB
	x.indent()
	x.buf.WriteString("<" + name + ` xmlns="`)
	escapeXML(&x.buf, namespace, true)
	x.buf.WriteString("\">\n")
	x.depth++
}

// Start opens an element that will hold other elements.
func (x *XMLWriter) Start(name string) {
	x.indent()
	x.buf.WriteString("<" + name + ">\n")
	x.depth++
}

// End closes the element Start opened.
func (x *XMLWriter) End(name string) {
	x.depth--
	x.indent()
	x.buf.WriteString("</" + name + ">\n")
}

// Element writes <name>text</name>.
func (x *XMLWriter) Element(name, text string) {
	x.indent()
	x.buf.WriteString("<" + name + ">")
	escapeXML(&x.buf, text, false)
	x.buf.WriteString("</" + name + ">\n")
}

// OptElement writes <name>text</name> unless text is empty: AWS omits
// optional members it has no value for (SourceIdentity, PackedPolicySize).
func (x *XMLWriter) OptElement(name, text string) {
	if text != "" {
		x.Element(name, text)
	}
}

// Bytes returns the document so far.
func (x *XMLWriter) Bytes() []byte { return x.buf.Bytes() }

// escapeXML writes s as XML character data. Beyond the markup characters,
// it writes CR as a reference (an XML parser would turn a literal CR into
// LF) and replaces what XML 1.0 cannot carry at all (control characters,
// invalid UTF-8, U+FFFE/U+FFFF) with U+FFFD, so no value of ours, however
// it came in, can make a document an SDK refuses to parse.
func escapeXML(b *bytes.Buffer, s string, attr bool) {
	// Runs of printable ASCII that need no escaping (session tokens,
	// ARNs, ids: nearly everything) are copied in one write.
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c < 0x7f && c != '&' && c != '<' && c != '>' && (c != '"' || !attr) {
			i++
			continue
		}
		b.WriteString(s[start:i])
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		start = i
		switch {
		case r == '&':
			b.WriteString("&amp;")
		case r == '<':
			b.WriteString("&lt;")
		case r == '>':
			b.WriteString("&gt;")
		case r == '"' && attr:
			b.WriteString("&quot;")
		case r == '\r':
			b.WriteString("&#xD;")
		case r == '\n' && attr, r == '\t' && attr:
			b.WriteString("&#x" + strconv.FormatInt(int64(r), 16) + ";")
		case r == '\t', r == '\n':
			b.WriteRune(r)
		case r < 0x20, r == utf8.RuneError && size == 1, r == 0xFFFE, r == 0xFFFF, r >= 0xD800 && r <= 0xDFFF:
			b.WriteRune(utf8.RuneError)
		default:
			b.WriteString(s[i-size : i])
		}
	}
	b.WriteString(s[start:])
}

// WriteQueryResponse writes a Query-protocol success response:
//
//	<{Action}Response xmlns="{namespace}">
//	  <{Action}Result>
//	    ... (result writes here)
//	  </{Action}Result>
//	  <ResponseMetadata>
//	    <RequestId>{requestID}</RequestId>
//	  </ResponseMetadata>
//	</{Action}Response>
//
// [model: resultWrapper; doc examples]. A nil result writes an empty
// Result element (AWS does for actions with no output members).
func WriteQueryResponse(w http.ResponseWriter, namespace, action, requestID string, result func(*XMLWriter)) {
	x := pooledXMLWriter()
	defer x.release()
	x.StartRoot(action+"Response", namespace)
	x.Start(action + "Result")
	if result != nil {
		result(x)
	}
	x.End(action + "Result")
	x.Start("ResponseMetadata")
	x.Element("RequestId", requestID)
	x.End("ResponseMetadata")
	x.End(action + "Response")
	writeBody(w, "text/xml", requestID, http.StatusOK, x.Bytes())
}

// WriteQueryEmptyResponse writes the envelope of an action without output
// members: ResponseMetadata only, no Result element, as IAM answers
// DeleteRole and the like.
func WriteQueryEmptyResponse(w http.ResponseWriter, namespace, action, requestID string) {
	x := pooledXMLWriter()
	defer x.release()
	x.StartRoot(action+"Response", namespace)
	x.Start("ResponseMetadata")
	x.Element("RequestId", requestID)
	x.End("ResponseMetadata")
	x.End(action + "Response")
	writeBody(w, "text/xml", requestID, http.StatusOK, x.Bytes())
}

// WriteQueryError writes e in the Query protocol's error envelope, as STS
// and IAM send it (RequestId beside Error, not in ResponseMetadata):
//
//	<ErrorResponse xmlns="{namespace}">
//	  <Error>
//	    <Type>Sender</Type>
//	    <Code>...</Code>
//	    <Message>...</Message>
//	  </Error>
//	  <RequestId>...</RequestId>
//	</ErrorResponse>
//
// A 413 is written with no body: that is how STS answers an oversized body
// (observed), and SDKs then report the bare status.
func WriteQueryError(w http.ResponseWriter, namespace, requestID string, e *Error) {
	if e.HTTPStatus == http.StatusRequestEntityTooLarge {
		writeBody(w, "", requestID, e.HTTPStatus, nil)
		return
	}
	writeBody(w, "text/xml", requestID, e.HTTPStatus, QueryErrorBody(namespace, requestID, e))
}

// QueryErrorBody is the document WriteQueryError sends.
func QueryErrorBody(namespace, requestID string, e *Error) []byte {
	var x XMLWriter
	x.StartRoot("ErrorResponse", namespace)
	x.Start("Error")
	x.Element("Type", e.Type)
	x.Element("Code", e.Code)
	x.Element("Message", e.Message)
	x.End("Error")
	x.Element("RequestId", requestID)
	x.End("ErrorResponse")
	return x.Bytes()
}

// WriteJSONError writes e as the AWS JSON 1.1 protocol does (KMS):
// {"__type":"Code","message":"..."} with Content-Type
// application/x-amz-json-1.1 and the request id in x-amzn-RequestId.
// botocore and the Go SDK read the code from __type (dropping any
// "namespace#" prefix) and the message from "message" or "Message".
func WriteJSONError(w http.ResponseWriter, requestID string, e *Error) {
	writeBody(w, "application/x-amz-json-1.1", requestID, e.HTTPStatus, JSONErrorBody(e))
}

// JSONErrorBody is the document WriteJSONError sends.
func JSONErrorBody(e *Error) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // "<" in a message stays "<", as AWS writes it
	_ = enc.Encode(struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}{e.Code, e.Message}) // strings only: Encode cannot fail
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// WriteJSONResponse writes a JSON 1.1 protocol (KMS, CloudTrail) success
// body with its content type and request id.
func WriteJSONResponse(w http.ResponseWriter, requestID string, body []byte) {
	writeBody(w, "application/x-amz-json-1.1", requestID, http.StatusOK, body)
}

// requestIDKey is RequestIDHeader as http.Header.Set stores it: canonical
// once, rather than canonicalized (and allocated) on every response.
var requestIDKey = textproto.CanonicalMIMEHeaderKey(RequestIDHeader)

func writeBody(w http.ResponseWriter, contentType, requestID string, status int, body []byte) {
	h := w.Header()
	// Set by canonical keys, the three values in one allocation.
	values := []string{requestID, contentType, strconv.Itoa(len(body))}
	h[requestIDKey] = values[0:1:1]
	if contentType != "" {
		h["Content-Type"] = values[1:2:2]
	}
	h["Content-Length"] = values[2:3:3]
	w.WriteHeader(status)
	_, _ = w.Write(body) // the client went away; nothing left to tell it
}
