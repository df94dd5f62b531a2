package api

import (
	"testing"

	"github.com/oidcfed/oidcfed/internal/iam"
	"github.com/oidcfed/oidcfed/internal/sts"
)

// A condition-key map comes back empty, whichever request had it before.
func TestKeyContextLentEmpty(t *testing.T) {
	static, err := iam.NewStatic("000000000000", "us-east-1", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := &Handler{auth: sts.NewService(static, nil, nil, nil, nil)}
	for range 100 {
		c := &call{caller: &sts.Caller{Root: true}}
		m := h.keyContext(c, 2)
		if len(m) != 0 {
			t.Fatalf("lent a map holding %v", m)
		}
		if second := h.keyContext(c, 0); len(second) != 0 || len(m) != 0 {
			t.Fatal("a second map for the same request is not a fresh one")
		}
		m["aws:principaltag/team"] = []string{"blue"}
		m["kms:keyspec"] = []string{"ECC_NIST_P256"}
		c.returnKeyContext()
		if c.keyContext != nil {
			t.Fatal("the request still holds the map it gave back")
		}
	}
}
