package lint

import (
	"strings"
	"testing"
	"time"
)

// FuzzTrust: any document lints without panicking, and what comes back is well-formed: an
// error only with no findings beyond OIDC012, findings complete and most severe first.
func FuzzTrust(f *testing.F) {
	f.Add(trust(gitlabCom, ""))
	f.Add(trust(gitlabCom, bound(gitlabCom)))
	f.Add(trust(gitlabCom, `{"StringLike":{"gitlab.com:sub":"project_path:grp*:ref_type:mr:ref:refs/heads/x"},"ForAllValues:StringNotEqualsIfExists":{"gitlab.com:aud":"https://gitlab.com/*"}}`))
	f.Add(trust(github, `{"StringLike":{"token.actions.githubusercontent.com:sub":["repo:org?","repo:o/r:ref:main","*"]}}`))
	f.Add(doc(`{"Effect":"Allow","Principal":"*","NotAction":"iam:*"}`))
	f.Add(`{"Statement":{"Effect":"Allow","NotPrincipal":{"Federated":"x"},"Action":"sts:*"}}`)
	f.Fuzz(func(t *testing.T, document string) {
		fs, err := Trust(Input{Trust: document, Account: acct, Providers: allProviders,
			Role: Role{MaxSessionDuration: 2 * time.Hour, Permissions: canSign}})
		prev := Critical
		for _, fd := range fs {
			if err != nil && fd.ID != ruleNotPrincipal.ID {
				t.Fatalf("finding %s with a parse error", fd.ID)
			}
			if ruleByID(fd.ID) == nil || fd.Message == "" || fd.Fix == "" || fd.Severity < Info || fd.Severity > prev {
				t.Fatalf("bad or misordered finding %+v", fd)
			}
			if fd.Statement >= 0 && !strings.HasPrefix(fd.Path, "Statement[") {
				t.Fatalf("path %q", fd.Path)
			}
			prev = fd.Severity
		}
	})
}
