package audit

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"

	"github.com/oidcfed/oidcfed/internal/awsproto"
)

// appendEvent appends ev's JSON exactly as encoding/json (HTML escaping
// off) writes it, without reflection: every request's record is encoded
// on the request's path, and reflection cost about 11 µs of the 20 µs a
// record took (BenchmarkMarshalEvent). TestAppendEventMatchesEncodingJSON
// and FuzzAppendEvent hold it to encoding/json's bytes. Values of the
// free-form maps it does not know are encoded by encoding/json.
func appendEvent(b []byte, ev *Event) ([]byte, error) {
	var err error
	b = append(b, `{"eventVersion":`...)
	b = appendString(b, ev.EventVersion)
	b = append(b, `,"userIdentity":`...)
	b = appendUserIdentity(b, &ev.UserIdentity)
	b = append(b, `,"eventTime":`...)
	b = appendString(b, ev.EventTime)
	b = append(b, `,"eventSource":`...)
	b = appendString(b, ev.EventSource)
	b = append(b, `,"eventName":`...)
	b = appendString(b, ev.EventName)
	b = append(b, `,"awsRegion":`...)
	b = appendString(b, ev.AWSRegion)
	b = append(b, `,"sourceIPAddress":`...)
	b = appendString(b, ev.SourceIPAddress)
	b = append(b, `,"userAgent":`...)
	b = appendString(b, ev.UserAgent)
	if ev.ErrorCode != "" {
		b = append(b, `,"errorCode":`...)
		b = appendString(b, ev.ErrorCode)
	}
	if ev.ErrorMessage != "" {
		b = append(b, `,"errorMessage":`...)
		b = appendString(b, ev.ErrorMessage)
	}
	b = append(b, `,"requestParameters":`...)
	if b, err = appendMap(b, ev.RequestParameters); err != nil {
		return nil, err
	}
	b = append(b, `,"responseElements":`...)
	if b, err = appendMap(b, ev.ResponseElements); err != nil {
		return nil, err
	}
	if len(ev.AdditionalEventData) > 0 {
		b = append(b, `,"additionalEventData":`...)
		if b, err = appendMap(b, ev.AdditionalEventData); err != nil {
			return nil, err
		}
	}
	b = append(b, `,"requestID":`...)
	b = appendString(b, ev.RequestID)
	b = append(b, `,"eventID":`...)
	b = appendString(b, ev.EventID)
	b = append(b, `,"readOnly":`...)
	b = strconv.AppendBool(b, ev.ReadOnly)
	if len(ev.Resources) > 0 {
		b = append(b, `,"resources":[`...)
		for i, r := range ev.Resources {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '{')
			if r.AccountID != "" {
				b = append(b, `"accountId":`...)
				b = appendString(b, r.AccountID)
				b = append(b, ',')
			}
			b = append(b, `"type":`...)
			b = appendString(b, r.Type)
			b = append(b, `,"ARN":`...)
			b = appendString(b, r.ARN)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = append(b, `,"eventType":`...)
	b = appendString(b, ev.EventType)
	b = append(b, `,"managementEvent":`...)
	b = strconv.AppendBool(b, ev.ManagementEvent)
	b = append(b, `,"recipientAccountId":`...)
	b = appendString(b, ev.RecipientAccountID)
	b = append(b, `,"eventCategory":`...)
	b = appendString(b, ev.EventCategory)
	b = append(b, `,"oidcfed":`...)
	if b, err = appendExtension(b, &ev.OIDCFed); err != nil {
		return nil, err
	}
	return append(b, '}'), nil
}

// fields writes a JSON object's members, commas between them.
type fields struct {
	b     []byte
	first bool
}

func (f *fields) key(k string) {
	if !f.first {
		f.b = append(f.b, ',')
	}
	f.first = false
	f.b = append(f.b, '"')
	f.b = append(f.b, k...)
	f.b = append(f.b, `":`...)
}

// str writes k: v, or nothing when omitEmpty and v is "".
func (f *fields) str(k, v string, omitEmpty bool) {
	if omitEmpty && v == "" {
		return
	}
	f.key(k)
	f.b = appendString(f.b, v)
}

func appendUserIdentity(b []byte, id *UserIdentity) []byte {
	f := fields{b: append(b, '{'), first: true}
	f.str("type", id.Type, false)
	f.str("principalId", id.PrincipalID, true)
	f.str("arn", id.ARN, true)
	f.str("accountId", id.AccountID, true)
	f.str("accessKeyId", id.AccessKeyID, true)
	f.str("userName", id.UserName, true)
	f.str("identityProvider", id.IdentityProvider, true)
	if sc := id.SessionContext; sc != nil {
		f.key("sessionContext")
		f.b = appendSessionContext(f.b, sc)
	}
	return append(f.b, '}')
}

func appendSessionContext(b []byte, sc *SessionContext) []byte {
	f := fields{b: append(b, '{'), first: true}
	if si := sc.SessionIssuer; si != nil {
		f.key("sessionIssuer")
		g := fields{b: append(f.b, '{'), first: true}
		g.str("type", si.Type, false)
		g.str("principalId", si.PrincipalID, false)
		g.str("arn", si.ARN, false)
		g.str("accountId", si.AccountID, false)
		g.str("userName", si.UserName, false)
		f.b = append(g.b, '}')
	}
	if wf := sc.WebIDFederationData; wf != nil {
		f.key("webIdFederationData")
		g := fields{b: append(f.b, '{'), first: true}
		g.str("federatedProvider", wf.FederatedProvider, false)
		g.key("attributes")
		g.b = appendStringMap(g.b, wf.Attributes)
		f.b = append(g.b, '}')
	}
	f.key("attributes")
	g := fields{b: append(f.b, '{'), first: true}
	g.str("creationDate", sc.Attributes.CreationDate, false)
	g.str("mfaAuthenticated", sc.Attributes.MFAAuthenticated, false)
	f.b = append(g.b, '}')
	f.str("sourceIdentity", sc.SourceIdentity, true)
	return append(f.b, '}')
}

func appendExtension(b []byte, x *Extension) ([]byte, error) {
	f := fields{b: append(b, '{'), first: true}
	if j := x.Job; j != nil {
		f.key("job")
		g := fields{b: append(f.b, '{'), first: true}
		g.str("project_path", j.ProjectPath, true)
		g.str("namespace_path", j.NamespacePath, true)
		g.str("ref", j.Ref, true)
		g.str("ref_type", j.RefType, true)
		g.str("pipeline_id", j.PipelineID, true)
		g.str("job_id", j.JobID, true)
		g.str("sha", j.SHA, true)
		g.str("user_login", j.UserLogin, true)
		g.str("environment", j.Environment, true)
		f.b = append(g.b, '}')
	}
	if t := x.Token; t != nil {
		f.key("token")
		g := fields{b: append(f.b, '{'), first: true}
		g.str("sha256", t.SHA256, false)
		g.str("iss", t.Issuer, true)
		g.str("sub", t.Subject, true)
		if len(t.Audience) > 0 {
			g.key("aud")
			g.b = appendStrings(g.b, t.Audience)
		}
		g.str("jti", t.JTI, true)
		if t.IssuedAt != 0 {
			g.key("iat")
			g.b = strconv.AppendInt(g.b, t.IssuedAt, 10)
		}
		if t.ExpiresAt != 0 {
			g.key("exp")
			g.b = strconv.AppendInt(g.b, t.ExpiresAt, 10)
		}
		f.b = append(g.b, '}')
	}
	// The rest is rare (refusals, lint findings) or set by the chain;
	// encoding/json writes it.
	for _, part := range []struct {
		name string
		v    any
		set  bool
	}{
		{"denial", x.Denial, x.Denial != nil},
		{"lint", x.Lint, len(x.Lint) > 0},
		{"chain", x.Chain, x.Chain != nil},
	} {
		if !part.set {
			continue
		}
		f.key(part.name)
		var err error
		if f.b, err = appendWithEncodingJSON(f.b, part.v); err != nil {
			return nil, err
		}
	}
	return append(f.b, '}'), nil
}

func appendStrings(b []byte, ss []string) []byte {
	if ss == nil {
		return append(b, "null"...)
	}
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

func appendStringMap(b []byte, m map[string]string) []byte {
	if m == nil {
		return append(b, "null"...)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k)
		b = append(b, ':')
		b = appendString(b, m[k])
	}
	return append(b, '}')
}

// Fields is a JSON object of string members in the order given: for the
// fixed shapes a handler records on every call (an assume call's
// credentials and assumed role user), where a map[string]string costs
// several times the allocation. Callers list members sorted by name, the
// order every other object in a record has.
type Fields []Field

// Field is one member of Fields.
type Field struct{ Name, Value string }

// MarshalJSON renders fs as a record does, for users of encoding/json.
func (fs Fields) MarshalJSON() ([]byte, error) { return appendFields(nil, fs), nil }

func appendFields(b []byte, fs Fields) []byte {
	if fs == nil {
		return append(b, "null"...)
	}
	b = append(b, '{')
	for i, f := range fs {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, f.Name)
		b = append(b, ':')
		b = appendString(b, f.Value)
	}
	return append(b, '}')
}

func appendMap(b []byte, m map[string]any) ([]byte, error) {
	if m == nil {
		return append(b, "null"...), nil
	}
	var small [16]string
	keys := small[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	var err error
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, k)
		b = append(b, ':')
		if b, err = appendValue(b, m[k]); err != nil {
			return nil, err
		}
	}
	return append(b, '}'), nil
}

// appendValue writes the kinds of value events hold; anything else goes
// through encoding/json.
func appendValue(b []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case string:
		return appendString(b, v), nil
	case bool:
		return strconv.AppendBool(b, v), nil
	case int:
		return strconv.AppendInt(b, int64(v), 10), nil
	case int64:
		return strconv.AppendInt(b, v, 10), nil
	case int32:
		return strconv.AppendInt(b, int64(v), 10), nil
	case uint64:
		return strconv.AppendUint(b, v, 10), nil
	case []string:
		return appendStrings(b, v), nil
	case map[string]string:
		return appendStringMap(b, v), nil
	case Fields:
		return appendFields(b, v), nil
	case map[string]any:
		return appendMap(b, v)
	case []any:
		if v == nil {
			return append(b, "null"...), nil
		}
		b = append(b, '[')
		var err error
		for i, e := range v {
			if i > 0 {
				b = append(b, ',')
			}
			if b, err = appendValue(b, e); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	}
	return appendWithEncodingJSON(b, v)
}

func appendWithEncodingJSON(b []byte, v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return append(b, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...), nil
}

// appendString writes s as encoding/json does with HTML escaping off.
func appendString(b []byte, s string) []byte { return awsproto.AppendJSONString(b, s, false) }
