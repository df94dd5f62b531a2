package policy

import (
	"slices"
	"testing"
)

// TestParsedKeepsItsOwnText: what a parsed policy keeps (Sids, principals,
// actions, condition values, however written) reads as the document says,
// in one statement or several, and stays so when the caller reuses the
// document's bytes — the strings are interned or copied to the statement's
// arena, never the caller's.
func TestParsedKeepsItsOwnText(t *testing.T) {
	type cond struct {
		op, key string
		values  []string
	}
	type stmt struct {
		sid        string
		federated  []string
		aws        []string
		actions    []string
		conditions []cond
	}
	tests := []struct {
		name string
		doc  string
		want []stmt
	}{
		{
			name: "one statement: trust policy",
			doc: `{"Version":"2012-10-17","Statement":[{"Sid":"Deploy1","Effect":"Allow",
				"Principal":{"Federated":"arn:aws:iam::111122223333:oidc-provider/gitlab.example.com"},
				"Action":"sts:AssumeRoleWithWebIdentity",
				"Condition":{"StringEquals":{"gitlab.example.com:aud":"sts.amazonaws.com"},
				"StringLike":{"gitlab.example.com:sub":["project_path:g/p:ref_type:branch:ref:main","project_path:team-7/*"]}}}]}`,
			want: []stmt{{sid: "Deploy1", federated: []string{"arn:aws:iam::111122223333:oidc-provider/gitlab.example.com"},
				actions: []string{"sts:AssumeRoleWithWebIdentity"},
				conditions: []cond{{"StringEquals", "gitlab.example.com:aud", []string{"sts.amazonaws.com"}},
					{"StringLike", "gitlab.example.com:sub", []string{"project_path:g/p:ref_type:branch:ref:main", "project_path:team-7/*"}}}}},
		},
		{
			name: "several statements, lists and scalars of every kind",
			doc: `{"Version":"2012-10-17","Statement":[
				{"Sid":"A","Effect":"Allow","Principal":{"AWS":["111122223333","arn:aws:iam::111122223333:role/x"],"Federated":["f1"]},"Action":["sts:AssumeRole","sts:TagSession"],
				 "Condition":{"NumericLessThan":{"aws:MultiFactorAuthAge":3600},"Bool":{"aws:SecureTransport":false},"StringEquals":{"k:a":"","k:b":["x","y","z"]}}},
				{"Effect":"Deny","Principal":{"AWS":"*"},"Action":"sts:AssumeRole","Condition":{"StringNotEquals":{"k:c":"Deny-Me"}}}]}`,
			want: []stmt{
				{sid: "A", aws: []string{"111122223333", "arn:aws:iam::111122223333:role/x"}, federated: []string{"f1"},
					actions: []string{"sts:AssumeRole", "sts:TagSession"},
					conditions: []cond{{"NumericLessThan", "aws:MultiFactorAuthAge", []string{"3600"}}, {"Bool", "aws:SecureTransport", []string{"false"}},
						{"StringEquals", "k:a", []string{""}}, {"StringEquals", "k:b", []string{"x", "y", "z"}}}},
				{aws: []string{"*"}, actions: []string{"sts:AssumeRole"}, conditions: []cond{{"StringNotEquals", "k:c", []string{"Deny-Me"}}}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := []byte(tt.doc)
			p, err := Parse(doc)
			if err != nil {
				t.Fatal(err)
			}
			for i := range doc {
				doc[i] = 'X' // the caller reuses its buffer
			}
			if len(p.Statements) != len(tt.want) {
				t.Fatalf("%d statements, want %d", len(p.Statements), len(tt.want))
			}
			for i, w := range tt.want {
				s := p.Statements[i]
				if s.Sid != w.sid || !slices.Equal(s.Action, w.actions) || !slices.Equal(s.Principal.Federated, w.federated) || !slices.Equal(s.Principal.AWS, w.aws) {
					t.Errorf("statement %d: Sid %q Action %q Federated %q AWS %q, want %q %q %q %q", i, s.Sid, s.Action, s.Principal.Federated, s.Principal.AWS, w.sid, w.actions, w.federated, w.aws)
				}
				var got []cond
				for _, c := range s.Conditions {
					got = append(got, cond{c.Operator, c.Key, c.Values})
				}
				if !slices.EqualFunc(got, w.conditions, func(a, b cond) bool {
					return a.op == b.op && a.key == b.key && slices.Equal(a.values, b.values)
				}) {
					t.Errorf("statement %d conditions %q, want %q", i, got, w.conditions)
				}
			}
		})
	}
}
