package issuer

import (
	"sort"
	"time"

	"github.com/oidcfed/oidcfed/internal/store"
)

// The rotation schedule is data, not events. Each key carries four instants:
//
//	CreatedAt   written to the store, published from then on
//	ActivateAt  may sign from here on: CreatedAt + jwks_max_age + margin for
//	            every key but the very first, so every verifier's cached
//	            JWKS already holds it
//	RetireAt    stops signing (= the successor's ActivateAt)
//	ExpireAt    unpublished: RetireAt + max_token_lifetime + margin, when the
//	            last token it signed has expired
//
// The margin (Config.Margin) covers what one replica cannot see at once: a
// change written elsewhere reaches every replica within StaleAfter (a
// replica with an older snapshot refuses to sign or publish), and clocks
// differ by up to MaxClockSkew.
//
// Every replica computes the signing key and the JWKS from these times and
// its clock, so a rotation written by one replica (or the CLI) takes effect
// everywhere at the same instant without any notification.

// published reports whether k belongs in the JWKS at t. A stored key is
// published from the moment a replica sees it, whatever its CreatedAt says:
// a replica whose clock runs behind the writer's must not hide it.
func published(k *store.SigningKey, t time.Time) bool {
	return k.ExpireAt == nil || t.Before(*k.ExpireAt)
}

// canSign reports whether k may sign at t.
func canSign(k *store.SigningKey, t time.Time) bool {
	return !t.Before(k.ActivateAt) && (k.RetireAt == nil || t.Before(*k.RetireAt))
}

// signingIndex returns the index of the key that signs at t: of those that
// may sign, the one activated last (kid breaks ties). -1 if none.
func signingIndex(keys []store.SigningKey, t time.Time) int {
	best := -1
	for i := range keys {
		if !canSign(&keys[i], t) {
			continue
		}
		if best < 0 || keys[i].ActivateAt.After(keys[best].ActivateAt) ||
			(keys[i].ActivateAt.Equal(keys[best].ActivateAt) && keys[i].KID > keys[best].KID) {
			best = i
		}
	}
	return best
}

// KeyStatus names where a key is in its life at some instant.
type KeyStatus string

// Key statuses, in life order.
const (
	StatusPending KeyStatus = "pending" // published, not yet signing
	StatusActive  KeyStatus = "active"  // signing
	StatusRetired KeyStatus = "retired" // published, no longer signing
	StatusExpired KeyStatus = "expired" // neither; removed by maintenance
)

// statusAt classifies k at t, given the key that signs at t.
func statusAt(k *store.SigningKey, signingKID string, t time.Time) KeyStatus {
	switch {
	case !published(k, t):
		return StatusExpired
	case k.KID == signingKID:
		return StatusActive
	case t.Before(k.ActivateAt):
		return StatusPending
	default:
		return StatusRetired
	}
}

// sortKeys orders keys by ActivateAt then KID, the order the store and the
// JWKS use.
func sortKeys(keys []store.SigningKey) {
	sort.Slice(keys, func(i, j int) bool {
		if !keys[i].ActivateAt.Equal(keys[j].ActivateAt) {
			return keys[i].ActivateAt.Before(keys[j].ActivateAt)
		}
		return keys[i].KID < keys[j].KID
	})
}
