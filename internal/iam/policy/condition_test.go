package policy

import (
	"fmt"
	"slices"
	"testing"
)

// condAllows evaluates an identity policy allowing s3:GetObject on * under the given Condition
// block (JSON) and version, and reports whether the request is allowed.
func condAllows(t *testing.T, version, condition string, ctx Context) bool {
	t.Helper()
	doc := fmt.Sprintf(`{"Version":%q,"Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":%s}}`, version, condition)
	p, err := ParseKind([]byte(doc), IdentityPolicy)
	if err != nil {
		t.Fatalf("parse %s: %v", doc, err)
	}
	return Evaluate(&Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::b/k", Context: ctx}, p).Allowed
}

func ctx(kv ...any) Context {
	c := Context{}
	for i := 0; i < len(kv); i += 2 {
		switch v := kv[i+1].(type) {
		case string:
			c.Set(kv[i].(string), v)
		case []string:
			c.Set(kv[i].(string), v...)
		}
	}
	return c
}

type condCase struct {
	name string
	cond string
	ctx  Context
	want bool
}

func runCondCases(t *testing.T, cases []condCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := condAllows(t, Version2012, tc.cond, tc.ctx); got != tc.want {
				t.Errorf("condition %s with %v: got %v, want %v", tc.cond, tc.ctx, got, tc.want)
			}
		})
	}
}

func TestStringOperators(t *testing.T) {
	runCondCases(t, []condCase{
		{"StringEquals match", `{"StringEquals":{"k:a":"x"}}`, ctx("k:a", "x"), true},
		{"StringEquals case-sensitive value", `{"StringEquals":{"k:a":"x"}}`, ctx("k:a", "X"), false},
		{"StringEquals star is literal", `{"StringEquals":{"k:a":"x*"}}`, ctx("k:a", "xy"), false},
		{"StringEquals literal star matches star", `{"StringEquals":{"k:a":"x*"}}`, ctx("k:a", "x*"), true},
		{"StringEquals values OR", `{"StringEquals":{"k:a":["y","x"]}}`, ctx("k:a", "x"), true},
		{"StringEquals keys AND", `{"StringEquals":{"k:a":"x","k:b":"y"}}`, ctx("k:a", "x", "k:b", "z"), false},
		{"StringEquals keys AND both", `{"StringEquals":{"k:a":"x","k:b":"y"}}`, ctx("k:a", "x", "k:b", "y"), true},
		{"operators AND", `{"StringEquals":{"k:a":"x"},"StringLike":{"k:b":"y*"}}`, ctx("k:a", "x", "k:b", "nope"), false},
		{"StringEquals missing key", `{"StringEquals":{"k:a":"x"}}`, ctx(), false},
		{"StringEquals empty value list is missing", `{"StringEquals":{"k:a":"x"}}`, Context{"k:a": {}}, false},
		{"key name case-insensitive policy side", `{"StringEquals":{"K:A":"x"}}`, ctx("k:a", "x"), true},
		{"key name case-insensitive request side", `{"StringEquals":{"k:a":"x"}}`, Context{"K:A": {"x"}}, true},
		{"StringEquals multi-valued key any", `{"StringEquals":{"k:a":"x"}}`, ctx("k:a", []string{"y", "x"}), true},
		{"StringEquals number value", `{"StringEquals":{"k:a":42}}`, ctx("k:a", "42"), true},
		{"StringEquals bool value", `{"StringEquals":{"k:a":true}}`, ctx("k:a", "true"), true},
		{"StringNotEquals different", `{"StringNotEquals":{"k:a":"x"}}`, ctx("k:a", "y"), true},
		{"StringNotEquals same", `{"StringNotEquals":{"k:a":"x"}}`, ctx("k:a", "x"), false},
		{"StringNotEquals values must all differ", `{"StringNotEquals":{"k:a":["x","y"]}}`, ctx("k:a", "y"), false},
		{"StringNotEquals missing key is true", `{"StringNotEquals":{"k:a":"x"}}`, ctx(), true},
		{"StringNotEquals multi-valued: one equal denies", `{"StringNotEquals":{"k:a":"x"}}`, ctx("k:a", []string{"y", "x"}), false},
		{"StringEqualsIgnoreCase", `{"StringEqualsIgnoreCase":{"k:a":"MyGroup"}}`, ctx("k:a", "mygroup"), true},
		{"StringEqualsIgnoreCase differs", `{"StringEqualsIgnoreCase":{"k:a":"MyGroup"}}`, ctx("k:a", "mygroups"), false},
		{"StringNotEqualsIgnoreCase same modulo case", `{"StringNotEqualsIgnoreCase":{"k:a":"MyGroup"}}`, ctx("k:a", "MYGROUP"), false},
		{"StringNotEqualsIgnoreCase missing", `{"StringNotEqualsIgnoreCase":{"k:a":"x"}}`, ctx(), true},
		{"StringLike star crosses slash and colon", `{"StringLike":{"k:a":"project_path:mygroup/*"}}`, ctx("k:a", "project_path:mygroup/sub/proj:ref_type:tag:ref:v1"), true},
		{"StringLike prefix sibling refused", `{"StringLike":{"k:a":"project_path:mygroup/*"}}`, ctx("k:a", "project_path:mygroup-evil/x"), false},
		{"StringLike prefix without slash admits sibling", `{"StringLike":{"k:a":"project_path:mygroup*"}}`, ctx("k:a", "project_path:mygroup-evil/x"), true},
		{"StringLike anchored", `{"StringLike":{"k:a":"mygroup/*"}}`, ctx("k:a", "x:mygroup/y"), false},
		{"StringLike question mark one char", `{"StringLike":{"k:a":"v?"}}`, ctx("k:a", "v1"), true},
		{"StringLike question mark not two", `{"StringLike":{"k:a":"v?"}}`, ctx("k:a", "v12"), false},
		{"StringLike question mark one rune", `{"StringLike":{"k:a":"v?"}}`, ctx("k:a", "vé"), true},
		{"StringLike case-sensitive", `{"StringLike":{"k:a":"ab*"}}`, ctx("k:a", "ABc"), false},
		{"StringLike backslash is literal", `{"StringLike":{"k:a":"a\\*"}}`, ctx("k:a", `a\xyz`), true},
		{"StringLike backslash does not escape", `{"StringLike":{"k:a":"a\\*"}}`, ctx("k:a", `a*`), false},
		// Values without a backslash share their escaped form with Values; one with a
		// backslash gets its own list, and its neighbours still match.
		{"StringLike plain value beside a backslash one", `{"StringLike":{"k:a":["x*","a\\b"]}}`, ctx("k:a", "xyz"), true},
		{"StringLike backslash value beside a plain one", `{"StringLike":{"k:a":["x*","a\\b"]}}`, ctx("k:a", `a\b`), true},
		{"StringEquals backslash is plain text", `{"StringEquals":{"k:a":["x","a\\b"]}}`, ctx("k:a", `a\b`), true},
		{"ArnLike backslash value beside a plain one", `{"ArnLike":{"k:a":["arn:aws:iam::1:role/x*","arn:aws:iam::1:role/a\\b"]}}`, ctx("k:a", `arn:aws:iam::1:role/a\b`), true},
		{"StringNotLike matching", `{"StringNotLike":{"k:a":"repo:evil/*"}}`, ctx("k:a", "repo:evil/x"), false},
		{"StringNotLike not matching", `{"StringNotLike":{"k:a":"repo:evil/*"}}`, ctx("k:a", "repo:good/x"), true},
		{"StringNotLike missing key is true", `{"StringNotLike":{"k:a":"repo:evil/*"}}`, ctx(), true},
	})
}

func TestNumericOperators(t *testing.T) {
	runCondCases(t, []condCase{
		{"NumericEquals", `{"NumericEquals":{"k:n":"10"}}`, ctx("k:n", "10"), true},
		{"NumericEquals float form", `{"NumericEquals":{"k:n":"10"}}`, ctx("k:n", "10.0"), true},
		{"NumericEquals JSON number", `{"NumericEquals":{"k:n":10}}`, ctx("k:n", "10"), true},
		{"NumericEquals differs", `{"NumericEquals":{"k:n":"10"}}`, ctx("k:n", "11"), false},
		{"NumericEquals unreadable request value", `{"NumericEquals":{"k:n":"10"}}`, ctx("k:n", "ten"), false},
		{"NumericNotEquals unreadable request value is not true", `{"NumericNotEquals":{"k:n":"10"}}`, ctx("k:n", "ten"), false},
		{"NumericNotEquals differs", `{"NumericNotEquals":{"k:n":"10"}}`, ctx("k:n", "11"), true},
		{"NumericNotEquals missing", `{"NumericNotEquals":{"k:n":"10"}}`, ctx(), true},
		{"NumericLessThan", `{"NumericLessThan":{"k:n":"10"}}`, ctx("k:n", "9"), true},
		{"NumericLessThan equal", `{"NumericLessThan":{"k:n":"10"}}`, ctx("k:n", "10"), false},
		{"NumericLessThanEquals equal", `{"NumericLessThanEquals":{"k:n":"10"}}`, ctx("k:n", "10"), true},
		{"NumericGreaterThan", `{"NumericGreaterThan":{"k:n":"10"}}`, ctx("k:n", "10.5"), true},
		{"NumericGreaterThan equal", `{"NumericGreaterThan":{"k:n":"10"}}`, ctx("k:n", "10"), false},
		{"NumericGreaterThanEquals", `{"NumericGreaterThanEquals":{"k:n":"10"}}`, ctx("k:n", "10"), true},
		{"NumericGreaterThanEquals negative", `{"NumericGreaterThanEquals":{"k:n":"-1"}}`, ctx("k:n", "-2"), false},
		{"NumericLessThan missing", `{"NumericLessThan":{"k:n":"10"}}`, ctx(), false},
	})
}

func TestDateOperators(t *testing.T) {
	runCondCases(t, []condCase{
		{"DateEquals ISO vs epoch", `{"DateEquals":{"aws:CurrentTime":"2026-01-01T00:00:00Z"}}`, ctx("aws:CurrentTime", "1767225600"), true},
		{"DateEquals offset", `{"DateEquals":{"aws:CurrentTime":"2026-01-01T01:00:00+01:00"}}`, ctx("aws:CurrentTime", "2026-01-01T00:00:00Z"), true},
		{"DateEquals date only", `{"DateEquals":{"aws:CurrentTime":"2026-01-01"}}`, ctx("aws:CurrentTime", "2026-01-01T00:00:00Z"), true},
		{"DateLessThan W3C year-month", `{"DateLessThan":{"aws:CurrentTime":"2026-07"}}`, ctx("aws:CurrentTime", "2026-06-30T23:59:59Z"), true},
		{"DateEquals millis", `{"DateEquals":{"aws:CurrentTime":"2026-01-01T00:00:00.000Z"}}`, ctx("aws:CurrentTime", "2026-01-01T00:00:00Z"), true},
		{"DateNotEquals", `{"DateNotEquals":{"aws:CurrentTime":"2026-01-01T00:00:00Z"}}`, ctx("aws:CurrentTime", "2026-01-02T00:00:00Z"), true},
		{"DateLessThan before", `{"DateLessThan":{"aws:CurrentTime":"2026-01-01T00:00:00Z"}}`, ctx("aws:CurrentTime", "2025-12-31T23:59:59Z"), true},
		{"DateLessThan equal", `{"DateLessThan":{"aws:CurrentTime":"2026-01-01T00:00:00Z"}}`, ctx("aws:CurrentTime", "2026-01-01T00:00:00Z"), false},
		{"DateLessThanEquals equal", `{"DateLessThanEquals":{"aws:CurrentTime":"2026-01-01T00:00:00Z"}}`, ctx("aws:CurrentTime", "2026-01-01T00:00:00Z"), true},
		{"DateGreaterThan after", `{"DateGreaterThan":{"aws:CurrentTime":"2026-01-01T00:00:00Z"}}`, ctx("aws:CurrentTime", "2026-01-01T00:00:01Z"), true},
		{"DateGreaterThan epoch policy", `{"DateGreaterThan":{"aws:TokenIssueTime":"1767225600"}}`, ctx("aws:TokenIssueTime", "2026-01-01T00:00:01Z"), true},
		{"DateGreaterThanEquals before", `{"DateGreaterThanEquals":{"aws:CurrentTime":"2026-01-01T00:00:00Z"}}`, ctx("aws:CurrentTime", "2025-01-01T00:00:00Z"), false},
		{"Date unreadable request value", `{"DateLessThan":{"aws:CurrentTime":"2026-01-01T00:00:00Z"}}`, ctx("aws:CurrentTime", "yesterday"), false},
	})
}

func TestBoolBinaryIPArnNull(t *testing.T) {
	runCondCases(t, []condCase{
		{"Bool true", `{"Bool":{"aws:SecureTransport":"true"}}`, ctx("aws:SecureTransport", "true"), true},
		{"Bool JSON false", `{"Bool":{"aws:SecureTransport":false}}`, ctx("aws:SecureTransport", "false"), true},
		{"Bool mismatch", `{"Bool":{"aws:SecureTransport":"true"}}`, ctx("aws:SecureTransport", "false"), false},
		{"Bool case-insensitive", `{"Bool":{"aws:SecureTransport":"True"}}`, ctx("aws:SecureTransport", "TRUE"), true},
		{"Bool missing", `{"Bool":{"aws:SecureTransport":"false"}}`, ctx(), false},
		{"BoolIfExists missing", `{"BoolIfExists":{"aws:SecureTransport":"false"}}`, ctx(), true},
		{"BinaryEquals", `{"BinaryEquals":{"k:b":"QmluYXJ5VmFsdWU="}}`, ctx("k:b", "QmluYXJ5VmFsdWU="), true},
		{"BinaryEquals differs", `{"BinaryEquals":{"k:b":"QmluYXJ5VmFsdWU="}}`, ctx("k:b", "T3RoZXI="), false},
		{"BinaryEquals not base64", `{"BinaryEquals":{"k:b":"QmluYXJ5VmFsdWU="}}`, ctx("k:b", "%%%"), false},
		{"IpAddress v4 in CIDR", `{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`, ctx("aws:SourceIp", "203.0.113.7"), true},
		{"IpAddress v4 outside", `{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`, ctx("aws:SourceIp", "203.0.114.7"), false},
		{"IpAddress bare address", `{"IpAddress":{"aws:SourceIp":"203.0.113.7"}}`, ctx("aws:SourceIp", "203.0.113.7"), true},
		{"IpAddress v6", `{"IpAddress":{"aws:SourceIp":"2001:db8::/32"}}`, ctx("aws:SourceIp", "2001:db8:1::5"), true},
		{"IpAddress v4-mapped v6 request", `{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}`, ctx("aws:SourceIp", "::ffff:10.1.2.3"), true},
		{"IpAddress family mismatch", `{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}`, ctx("aws:SourceIp", "2001:db8::1"), false},
		{"IpAddress list OR", `{"IpAddress":{"aws:SourceIp":["10.0.0.0/8","192.168.0.0/16"]}}`, ctx("aws:SourceIp", "192.168.1.1"), true},
		{"IpAddress garbage request", `{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}`, ctx("aws:SourceIp", "not-an-ip"), false},
		{"NotIpAddress outside", `{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}`, ctx("aws:SourceIp", "192.0.2.1"), true},
		{"NotIpAddress inside", `{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}`, ctx("aws:SourceIp", "10.0.0.1"), false},
		{"NotIpAddress missing", `{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}`, ctx(), true},
		{"NotIpAddress garbage is not true", `{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}`, ctx("aws:SourceIp", "x"), false},
		{"ArnEquals", `{"ArnEquals":{"aws:FederatedProvider":"arn:aws:iam::111122223333:oidc-provider/gitlab.example.com"}}`, ctx("aws:FederatedProvider", "arn:aws:iam::111122223333:oidc-provider/gitlab.example.com"), true},
		{"ArnLike wildcard account", `{"ArnLike":{"aws:FederatedProvider":"arn:aws:iam::*:oidc-provider/gitlab.example.com"}}`, ctx("aws:FederatedProvider", "arn:aws:iam::111122223333:oidc-provider/gitlab.example.com"), true},
		{"ArnLike star does not cross components", `{"ArnLike":{"k:arn":"arn:aws:iam::*"}}`, ctx("k:arn", "arn:aws:iam::111122223333:role/x"), false},
		{"ArnLike resource glob", `{"ArnLike":{"k:arn":"arn:aws:iam::111122223333:role/*"}}`, ctx("k:arn", "arn:aws:iam::111122223333:role/path/x"), true},
		{"ArnLike resource keeps colons", `{"ArnLike":{"k:arn":"arn:aws:logs:*:*:log-group:x:*"}}`, ctx("k:arn", "arn:aws:logs:us-east-1:1:log-group:x:log-stream:y"), true},
		{"ArnLike bare star", `{"ArnLike":{"k:arn":"*"}}`, ctx("k:arn", "arn:aws:s3:::b"), true},
		{"ArnLike not an ARN", `{"ArnLike":{"k:arn":"*"}}`, ctx("k:arn", "hello"), false},
		{"ArnLike case-sensitive", `{"ArnLike":{"k:arn":"arn:aws:iam::1:role/X"}}`, ctx("k:arn", "arn:aws:iam::1:role/x"), false},
		{"ArnNotEquals", `{"ArnNotEquals":{"k:arn":"arn:aws:iam::1:role/x"}}`, ctx("k:arn", "arn:aws:iam::1:role/y"), true},
		{"ArnNotLike matching", `{"ArnNotLike":{"k:arn":"arn:aws:iam::1:role/*"}}`, ctx("k:arn", "arn:aws:iam::1:role/y"), false},
		{"ArnNotLike missing", `{"ArnNotLike":{"k:arn":"arn:aws:iam::1:role/*"}}`, ctx(), true},
		{"ArnNotLike not an ARN is not true", `{"ArnNotLike":{"k:arn":"arn:aws:iam::1:role/*"}}`, ctx("k:arn", "x"), false},
		{"Null true on missing", `{"Null":{"k:a":"true"}}`, ctx(), true},
		{"Null true on present", `{"Null":{"k:a":"true"}}`, ctx("k:a", "x"), false},
		{"Null false on present", `{"Null":{"k:a":"false"}}`, ctx("k:a", "x"), true},
		{"Null false on missing", `{"Null":{"k:a":false}}`, ctx(), false},
		{"Null false on empty set", `{"Null":{"k:a":"false"}}`, Context{"k:a": {}}, false},
		{"Null other value never matches", `{"Null":{"k:a":"maybe"}}`, ctx(), false},
	})
}

func TestIfExistsAndSetOperators(t *testing.T) {
	runCondCases(t, []condCase{
		{"StringEqualsIfExists missing", `{"StringEqualsIfExists":{"k:a":"x"}}`, ctx(), true},
		{"StringEqualsIfExists present wrong", `{"StringEqualsIfExists":{"k:a":"x"}}`, ctx("k:a", "y"), false},
		{"StringEqualsIfExists present right", `{"StringEqualsIfExists":{"k:a":"x"}}`, ctx("k:a", "x"), true},
		{"StringNotLikeIfExists present matching", `{"StringNotLikeIfExists":{"k:a":"x*"}}`, ctx("k:a", "xy"), false},
		{"NumericLessThanIfExists missing", `{"NumericLessThanIfExists":{"k:n":"3"}}`, ctx(), true},
		{"DateLessThanIfExists present", `{"DateLessThanIfExists":{"aws:CurrentTime":"2026-01-01"}}`, ctx("aws:CurrentTime", "2027-01-01T00:00:00Z"), false},
		{"IpAddressIfExists missing", `{"IpAddressIfExists":{"aws:SourceIp":"10.0.0.0/8"}}`, ctx(), true},
		{"ArnLikeIfExists missing", `{"ArnLikeIfExists":{"k:arn":"arn:*:*:*:*:*"}}`, ctx(), true},
		{"BinaryEqualsIfExists missing", `{"BinaryEqualsIfExists":{"k:b":"AA=="}}`, ctx(), true},
		{"ForAllValues missing key is true", `{"ForAllValues:StringEquals":{"k:m":["a","b"]}}`, ctx(), true},
		{"ForAllValues empty set is true", `{"ForAllValues:StringEquals":{"k:m":["a","b"]}}`, Context{"k:m": {}}, true},
		{"ForAllValues subset", `{"ForAllValues:StringEquals":{"k:m":["a","b"]}}`, ctx("k:m", []string{"a", "b"}), true},
		{"ForAllValues one outside", `{"ForAllValues:StringEquals":{"k:m":["a","b"]}}`, ctx("k:m", []string{"a", "c"}), false},
		{"ForAllValues paired with Null false refuses missing", `{"ForAllValues:StringEquals":{"k:m":["a"]},"Null":{"k:m":"false"}}`, ctx(), false},
		{"ForAllValues StringLike", `{"ForAllValues:StringLike":{"k:m":["team-*"]}}`, ctx("k:m", []string{"team-a", "team-b"}), true},
		{"ForAllValues StringNotEquals none listed", `{"ForAllValues:StringNotEquals":{"k:m":["x"]}}`, ctx("k:m", []string{"a", "b"}), true},
		{"ForAllValues StringNotEquals one listed", `{"ForAllValues:StringNotEquals":{"k:m":["x"]}}`, ctx("k:m", []string{"a", "x"}), false},
		{"ForAllValues IfExists missing", `{"ForAllValues:StringEqualsIfExists":{"k:m":["a"]}}`, ctx(), true},
		{"ForAnyValue missing key is false", `{"ForAnyValue:StringEquals":{"k:m":["a"]}}`, ctx(), false},
		{"ForAnyValue empty set is false", `{"ForAnyValue:StringEquals":{"k:m":["a"]}}`, Context{"k:m": {}}, false},
		{"ForAnyValue one matches", `{"ForAnyValue:StringEquals":{"k:m":["a"]}}`, ctx("k:m", []string{"z", "a"}), true},
		{"ForAnyValue none matches", `{"ForAnyValue:StringEquals":{"k:m":["a"]}}`, ctx("k:m", []string{"z", "y"}), false},
		{"ForAnyValue amr", `{"ForAnyValue:StringLike":{"gitlab.example.com:amr":"mfa*"}}`, ctx("gitlab.example.com:amr", []string{"pwd", "mfa-otp"}), true},
		{"ForAnyValue StringNotEquals some other", `{"ForAnyValue:StringNotEquals":{"k:m":["a"]}}`, ctx("k:m", []string{"a", "b"}), true},
		{"ForAnyValue StringNotEquals all listed", `{"ForAnyValue:StringNotEquals":{"k:m":["a"]}}`, ctx("k:m", []string{"a"}), false},
		{"ForAnyValue negated missing is false", `{"ForAnyValue:StringNotEquals":{"k:m":["a"]}}`, ctx(), false},
		{"ForAnyValue IfExists missing is true", `{"ForAnyValue:StringEqualsIfExists":{"k:m":["a"]}}`, ctx(), true},
		{"ForAnyValue NumericGreaterThan", `{"ForAnyValue:NumericGreaterThan":{"k:m":"5"}}`, ctx("k:m", []string{"1", "9"}), true},
		{"ForAllValues NumericLessThan", `{"ForAllValues:NumericLessThan":{"k:m":"5"}}`, ctx("k:m", []string{"1", "9"}), false},
		{"ForAnyValue IpAddress", `{"ForAnyValue:IpAddress":{"k:m":"10.0.0.0/8"}}`, ctx("k:m", []string{"1.1.1.1", "10.9.9.9"}), true},
	})
}

func TestParseOperator(t *testing.T) {
	for _, name := range []string{"StringEquals", "ForAllValues:StringLikeIfExists", "ForAnyValue:ArnNotLike", "Null", "NotIpAddressIfExists", "DateGreaterThanEqualsIfExists"} {
		if _, ok := parseOperator(name); !ok {
			t.Errorf("parseOperator(%q) refused", name)
		}
	}
	for _, name := range []string{"StringEqualz", "stringequals", "NullIfExists", "ForAllValues:Null", "IfExists", "ForSomeValues:StringEquals", "StringEqualsIfExistsIfExists", "ForAllValues:ForAnyValue:StringEquals"} {
		if _, ok := parseOperator(name); ok {
			t.Errorf("parseOperator(%q) accepted", name)
		}
	}
}

// TestConditionValuesStayAsWritten: the escaped globs kept for matching never
// show through Values, which explain and the IAM API print.
func TestConditionValuesStayAsWritten(t *testing.T) {
	p, err := Parse([]byte(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*",` +
		`"Condition":{"StringLike":{"k:a":["x*","a\\b"]}}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Statements[0].Conditions[0].Values; !slices.Equal(got, []string{"x*", `a\b`}) {
		t.Errorf("Values = %q, want as written", got)
	}
}
