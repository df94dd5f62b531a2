package policy

import (
	"slices"
	"testing"
)

func TestStatementSpans(t *testing.T) {
	span := func(l1, c1, l2, c2 int) Span { return Span{Position{l1, c1}, Position{l2, c2}} }
	cases := []struct {
		name string
		doc  string
		want []Span
	}{
		{
			// The AWS CLI reference's simulate-custom-policy example, with
			// the positions AWS answered.
			"single statement object, AWS CLI example",
			`{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"dynamodb:*","Resource":"*","Condition":{"DateGreaterThan":{"aws:CurrentTime":"2018-08-16T12:00:00Z"}}}}`,
			[]Span{span(1, 38, 1, 167)},
		},
		{
			// An S3 bucket policy as S3 returns it (compact) and the
			// positions AWS gave its statements in a published simulation.
			"compact list, S3 bucket policy",
			`{"Version":"2012-10-17","Statement":[{"Sid":"DenyInsecureTransport","Effect":"Deny","Principal":"*","Action":"*","Resource":["arn:aws:s3:::tims-fancy-bucket/*","arn:aws:s3:::tims-fancy-bucket"],"Condition":{"Bool":{"aws:SecureTransport":"false"}}},{"Sid":"DenyTimDelete","Effect":"Deny","Principal":"*","Action":"s3:DeleteObject","Resource":"arn:aws:s3:::tims-fancy-bucket/*","Condition":{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::112233445566:role/tims-test-role"}}}]}`,
			[]Span{span(1, 38, 1, 248), span(1, 248, 1, 470)},
		},
		{
			// Python's json.dumps spacing, from the same simulation.
			"spaced list, json.dumps",
			`{"Version": "2012-10-17", "Statement": [{"Sid": "s3", "Effect": "Allow", "Action": ["s3:GetObject", "s3:DeleteObject"], "Resource": ["arn:aws:s3:::tims-fancy-bucket/only-here/*"]}]}`,
			[]Span{span(1, 41, 1, 180)},
		},
		{
			"pretty-printed, as AWS managed policies are",
			"{\n    \"Version\": \"2012-10-17\",\n    \"Statement\": [\n        {\n            \"Effect\": \"Allow\",\n            \"Action\": \"*\",\n            \"Resource\": \"*\"\n        }\n    ]\n}",
			[]Span{span(3, 19, 8, 10)},
		},
		{
			"two pretty-printed statements, CRLF line ends",
			"{\r\n  \"Statement\": [\r\n    {\"Effect\": \"Allow\", \"Action\": \"a:b\", \"Resource\": \"*\"},\r\n    {\"Effect\": \"Deny\", \"Action\": \"a:c\", \"Resource\": \"*\"}\r\n  ]\r\n}",
			[]Span{span(2, 17, 3, 58), span(3, 58, 4, 57)},
		},
		{
			"Statement after other members, spaced colon",
			`{"Id":"x","Version":"2012-10-17","Statement" :  {"Effect":"Allow","Action":"a:b","Resource":"*"}}`,
			[]Span{span(1, 50, 1, 97)},
		},
		{
			"characters beyond ASCII count once",
			`{"Statement":[{"Effect":"Allow","Action":"a:b","Resource":"arn:aws:s3:::é/ü"}]}`,
			[]Span{span(1, 15, 1, 78)},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Parse([]byte(tc.doc)); err != nil {
				t.Fatalf("the document does not parse: %v", err)
			}
			got, err := StatementSpans([]byte(tc.doc))
			if err != nil || !slices.Equal(got, tc.want) {
				t.Fatalf("got %v (%v), want %v", got, err, tc.want)
			}
		})
	}
	for _, bad := range []string{``, `[]`, `{"Statement":"x"}`, `{"Statement":[{]}`} {
		if _, err := StatementSpans([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestContextKeys(t *testing.T) {
	cases := []struct {
		name string
		doc  string
		want []string
	}{
		{"none", `{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"a:b","Resource":"*"}}`, nil},
		{
			"conditions in document order, every statement, duplicates once",
			`{"Version":"2012-10-17","Statement":[
				{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*","Condition":{"StringLike":{"aws:PrincipalTag/team":"x"},"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}},
				{"Effect":"Deny","Action":"s3:GetObject","Resource":"*","Condition":{"Bool":{"AWS:SOURCEIP":"true"},"Null":{"s3:prefix":"true"}}}]}`,
			[]string{"aws:PrincipalTag/team", "aws:SourceIp", "s3:prefix"},
		},
		{
			"policy variables in Resource and condition values",
			`{"Version":"2012-10-17","Statement":[
				{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/${aws:username}/*"},
				{"Effect":"Allow","Action":"s3:ListBucket","NotResource":"arn:aws:s3:::c/${aws:userid, 'none'}","Condition":{"StringLike":{"s3:prefix":"${aws:PrincipalTag/home}/*"}}}]}`,
			[]string{"aws:username", "aws:userid", "s3:prefix", "aws:PrincipalTag/home"},
		},
		{
			"no variables in the 2008 language",
			`{"Version":"2008-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/${aws:username}"}}`,
			nil,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Parse([]byte(tc.doc))
			if err != nil {
				t.Fatal(err)
			}
			if got := p.ContextKeys(); !slices.Equal(got, tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestValidContextValue(t *testing.T) {
	cases := []struct {
		typ, value string
		want       bool
	}{
		{"string", "", true},
		{"numeric", "3600", true},
		{"numeric", "-1.5", true},
		{"numeric", "abc", false},
		{"numeric", "NaN", false},
		{"boolean", "TRUE", true},
		{"boolean", "yes", false},
		{"ip", "203.0.113.7", true},
		{"ip", "2001:db8::1", true},
		{"ip", "203.0.113.0/24", false},
		{"binary", "QmluYXJ5", true},
		{"binary", "not base64!", false},
		{"date", "2019-04-25T11:00:00Z", true},
		{"date", "1556190000", true},
		{"date", "yesterday", false},
		{"stringList", "x", false},
		{"text", "x", false},
	}
	for _, tc := range cases {
		if got := ValidContextValue(tc.typ, tc.value); got != tc.want {
			t.Errorf("ValidContextValue(%q, %q) = %v, want %v", tc.typ, tc.value, got, tc.want)
		}
	}
}
