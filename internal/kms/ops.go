package kms

import (
	"context"
	"crypto"
	"crypto/rand"
	"encoding/json"
	"errors"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/oidcfed/oidcfed/internal/awsproto"
	"github.com/oidcfed/oidcfed/internal/iam/policy"
	"github.com/oidcfed/oidcfed/internal/keys"
	"github.com/oidcfed/oidcfed/internal/store"
)

// usable checks that a key may be used for a cryptographic operation now.
func (s *Service) usable(k *Key) error {
	switch k.State {
	case StateEnabled:
		return nil
	case StateDisabled:
		return newError(CodeDisabled, "%s is disabled.", k.ARN)
	case StatePendingDeletion:
		return newError(CodeInvalidState, "%s is pending deletion.", k.ARN)
	}
	return newError(CodeInvalidState, "%s is %s.", k.ARN, k.State)
}

func enumError(member, value string, allowed []string) *Error {
	return newError(CodeValidation, "1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must satisfy enum value set: [%s]",
		truncate(value, 64), member, strings.Join(allowed, ", "))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// digest checks a Sign/Verify message and returns what is signed.
func digest(alg algorithm, algName string, message []byte, messageType string) ([]byte, error) {
	if len(message) == 0 {
		return nil, validation("message", "Member must have length greater than or equal to 1")
	}
	if len(message) > MaxMessage {
		return nil, validation("message", "Member must have length less than or equal to 4096")
	}
	switch messageType {
	case "", MessageRaw:
		h := alg.hash.New()
		h.Write(message)
		return h.Sum(nil), nil
	case MessageDigest:
		if len(message) != alg.hash.Size() {
			return nil, newError(CodeValidation, "Digest is invalid length for algorithm %s.", algName) // recalled, unconfirmed
		}
		return message, nil
	}
	return nil, enumError("messageType", messageType, []string{"RAW", "DIGEST", "EXTERNAL_MU"})
}

// signing resolves the algorithm for a key's Sign/Verify.
func signing(k *Key, algName string) (algorithm, error) {
	if !slices.Contains(allSigningAlgorithms, algName) {
		return algorithm{}, enumError("signingAlgorithm", algName, allSigningAlgorithms)
	}
	if k.KeyUsage != UsageSignVerify {
		return algorithm{}, newError(CodeInvalidKeyUsage, "%s key usage is %s which is not valid for signing.", k.ARN, k.KeyUsage) // unconfirmed wording
	}
	if !supportsSigning(k.KeySpec, algName) {
		return algorithm{}, newError(CodeInvalidKeyUsage, "Algorithm %s is incompatible with key spec %s.", algName, k.KeySpec) // unconfirmed wording
	}
	return algorithms[algName], nil
}

// Sign signs message with the key r names.
func (s *Service) Sign(r *Resolved, message []byte, messageType, algName string) ([]byte, error) {
	if err := s.usable(r.Key); err != nil {
		return nil, err
	}
	alg, err := signing(r.Key, algName)
	if err != nil {
		return nil, err
	}
	d, err := digest(alg, algName, message, messageType)
	if err != nil {
		return nil, err
	}
	signer, err := r.entry.signerOf(s)
	if err != nil {
		return nil, err
	}
	// ECDSA keys sign DER (ASN.1) signatures through crypto.Signer, as
	// KMS returns them; RSA keys PKCS#1 v1.5 or PSS by the options.
	return signer.Sign(rand.Reader, d, alg.signerOpts())
}

// Verify checks signature over message with the key r names; an invalid
// signature is KMSInvalidSignatureException, as KMS answers.
func (s *Service) Verify(r *Resolved, message []byte, messageType, algName string, signature []byte) error {
	if err := s.usable(r.Key); err != nil {
		return err
	}
	alg, err := signing(r.Key, algName)
	if err != nil {
		return err
	}
	d, err := digest(alg, algName, message, messageType)
	if err != nil {
		return err
	}
	if len(signature) == 0 {
		return validation("signature", "Member must have length greater than or equal to 1")
	}
	signer, err := r.entry.signerOf(s)
	if err != nil {
		return err
	}
	if !alg.verify(signer.Public(), d, signature) {
		return &Error{Code: CodeInvalidSignature, Message: ""}
	}
	return nil
}

// PublicKey is the key's DER SubjectPublicKeyInfo.
func (s *Service) PublicKey(r *Resolved) ([]byte, error) {
	if signingAlgorithms[r.Key.KeySpec] == nil {
		return nil, newError(CodeUnsupportedOp, "%s key usage is %s which is not valid for GetPublicKey.", r.Key.ARN, r.Key.KeyUsage) // unconfirmed wording
	}
	if r.Key.State == StatePendingDeletion {
		return nil, s.usable(r.Key)
	}
	if r.Key.State == StateDisabled {
		return nil, s.usable(r.Key)
	}
	signer, err := r.entry.signerOf(s)
	if err != nil {
		return nil, err
	}
	return keys.MarshalKMSPublicKey(signer.Public())
}

// CreateKeyInput is CreateKey's request.
type CreateKeyInput struct {
	// ID, when set, is the new key's id (dev mode's deterministic key);
	// the API never sets it.
	ID                             string
	Description                    string
	KeyUsage                       string
	KeySpec                        string
	CustomerMasterKeySpec          string
	Policy                         string
	Origin                         string
	Tags                           []Tag
	MultiRegion                    bool
	BypassPolicyLockoutSafetyCheck bool
}

// CreateKey makes a new key with fresh material.
func (s *Service) CreateKey(ctx context.Context, in CreateKeyInput) (*Key, error) {
	spec := in.KeySpec
	if spec == "" {
		spec = in.CustomerMasterKeySpec
	} else if in.CustomerMasterKeySpec != "" {
		return nil, newError(CodeValidation, "You cannot specify KeySpec and CustomerMasterKeySpec in the same request. CustomerMasterKeySpec is deprecated.") // recalled
	}
	if spec == "" {
		spec = "SYMMETRIC_DEFAULT"
	}
	usage := in.KeyUsage
	if usage == "" {
		usage = UsageEncryptDecrypt
	}
	switch {
	case !slices.Contains(allKeySpecs, spec):
		return nil, enumError("keySpec", spec, allKeySpecs)
	case !slices.Contains(allKeyUsages, usage):
		return nil, enumError("keyUsage", usage, allKeyUsages)
	case len(in.Description) > 8192:
		return nil, validation("description", "Member must have length less than or equal to 8192")
	case in.Origin != "" && in.Origin != "AWS_KMS":
		return nil, newError(CodeUnsupportedOp, "Origin %s is not supported by this server; keys are generated here (AWS_KMS).", truncate(in.Origin, 32))
	case in.MultiRegion:
		return nil, newError(CodeUnsupportedOp, "Multi-Region keys are not supported by this server.")
	}
	var material []byte
	switch _, mac := macAlgorithms[spec]; {
	case signingAlgorithms[spec] != nil:
		if usage != UsageSignVerify {
			if usage == UsageEncryptDecrypt && strings.HasPrefix(spec, "RSA_") {
				return nil, newError(CodeUnsupportedOp, "RSA keys for ENCRYPT_DECRYPT are not supported by this server yet.")
			}
			return nil, newError(CodeValidation, "KeyUsage %s is not compatible with KeySpec %s", usage, spec) // unconfirmed wording
		}
	case spec == specSymmetric:
		if usage != UsageEncryptDecrypt {
			return nil, newError(CodeValidation, "KeyUsage %s is not compatible with KeySpec %s", usage, spec) // unconfirmed wording
		}
	case mac:
		if usage != UsageGenerateVerifyMAC {
			return nil, newError(CodeValidation, "KeyUsage %s is not compatible with KeySpec %s", usage, spec) // unconfirmed wording
		}
	default:
		// Beyond this server so far: SM2, ML-DSA, Ed25519.
		return nil, newError(CodeUnsupportedOp, "KeySpec %s is not supported by this server.", spec)
	}
	doc := in.Policy
	if doc == "" {
		doc = s.DefaultPolicy()
	} else if err := checkKeyPolicy(doc); err != nil {
		return nil, err
	}
	if err := checkTags(in.Tags); err != nil {
		return nil, err
	}
	var err error
	switch m, mac := macAlgorithms[spec]; {
	case spec == specSymmetric:
		material, err = keys.GenerateKMSSecret(keys.KMSSymmetricKeySize)
	case mac:
		material, err = keys.GenerateKMSSecret(m.size)
	default:
		var signer crypto.Signer
		if signer, err = keys.GenerateKMSKey(spec); err == nil {
			material, err = keys.MarshalKMSKey(signer)
		}
	}
	if err != nil {
		return nil, err
	}
	der := material
	id := in.ID
	if id == "" {
		id = awsproto.NewRequestID() // a random UUID, as KMS key ids are
	}
	sealed, err := s.opts.Seal(der, store.KMSKeyAAD(id))
	clear(der)
	if err != nil {
		return nil, err
	}
	k := &Key{ID: id, ARN: s.KeyARN(id), Account: s.opts.Account, CreationDate: s.now().Truncate(time.Millisecond),
		Description: in.Description, KeyUsage: usage, KeySpec: spec, State: StateEnabled, Policy: doc, Tags: in.Tags}
	body, err := json.Marshal(k)
	if err != nil {
		return nil, err
	}
	defer s.invalidate()
	if err := s.opts.Store.Update(ctx, func(tx store.Tx) error {
		return tx.CreateKMSKey(ctx, &store.KMSKey{ID: id, Body: body, SealedMaterial: sealed})
	}); err != nil {
		return nil, err
	}
	return k, nil
}

// checkKeyPolicy validates a key policy document.
func checkKeyPolicy(doc string) error {
	if len(doc) > policy.MaxKeyPolicySize {
		return validation("policy", "Member must have length less than or equal to 32768") // KMS's quota, unconfirmed wording
	}
	if _, err := policy.ParseResourcePolicy([]byte(doc)); err != nil {
		var me *policy.MalformedError
		if errors.As(err, &me) {
			return newError(CodeMalformedPolicy, "%s", me.Message)
		}
		return newError(CodeMalformedPolicy, "The new key policy will not allow you to update the key policy in the future.") // unconfirmed
	}
	return nil
}

var tagKeyRE = regexp.MustCompile(`^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$`)

func checkTags(tags []Tag) error {
	seen := map[string]bool{}
	for _, t := range tags {
		switch {
		case t.TagKey == "" || utf8.RuneCountInString(t.TagKey) > 128 || !tagKeyRE.MatchString(t.TagKey):
			return newError(CodeTag, "Tag key %q is not valid.", truncate(t.TagKey, 128)) // unconfirmed wording
		case utf8.RuneCountInString(t.TagValue) > 256 || !tagKeyRE.MatchString(t.TagValue):
			return newError(CodeTag, "Tag value for key %q is not valid.", truncate(t.TagKey, 128)) // unconfirmed wording
		case strings.HasPrefix(strings.ToLower(t.TagKey), "aws:"):
			return newError(CodeTag, "Tags beginning with aws: are reserved.") // unconfirmed wording
		case seen[t.TagKey]:
			return newError(CodeTag, "Duplicate tag keys") // unconfirmed wording
		}
		seen[t.TagKey] = true
	}
	if len(tags) > 50 {
		return newError(CodeTag, "Too many tags") // unconfirmed wording
	}
	return nil
}

// modify applies fn to the stored key and saves it.
func (s *Service) modify(ctx context.Context, id string, fn func(k *Key) error) (*Key, error) {
	var out *Key
	defer s.invalidate()
	err := s.opts.Store.Update(ctx, func(tx store.Tx) error {
		rec, err := tx.GetKMSKey(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return s.notFound(id)
		}
		if err != nil {
			return err
		}
		k := new(Key)
		if err := json.Unmarshal(rec.Body, k); err != nil {
			return err
		}
		if err := fn(k); err != nil {
			return err
		}
		body, err := json.Marshal(k)
		if err != nil {
			return err
		}
		out = k
		return tx.UpdateKMSKey(ctx, id, body)
	})
	return out, err
}

// SetEnabled is EnableKey and DisableKey.
func (s *Service) SetEnabled(ctx context.Context, r *Resolved, enabled bool) error {
	_, err := s.modify(ctx, r.Key.ID, func(k *Key) error {
		if k.State == StatePendingDeletion {
			return s.usable(k)
		}
		k.State = StateDisabled
		if enabled {
			k.State = StateEnabled
		}
		return nil
	})
	return err
}

// ScheduleDeletion puts a key in PendingDeletion. This server never
// deletes key material by itself: the key stays PendingDeletion (and
// unusable) until CancelKeyDeletion; its DeletionDate is informational.
func (s *Service) ScheduleDeletion(ctx context.Context, r *Resolved, days *int) (*Key, error) {
	window := 30
	if days != nil {
		if *days < 7 || *days > 30 {
			return nil, validation("pendingWindowInDays", "Member must have value between 7 and 30") // unconfirmed: AWS's documented range
		}
		window = *days
	}
	return s.modify(ctx, r.Key.ID, func(k *Key) error {
		if k.State == StatePendingDeletion {
			return s.usable(k)
		}
		at := s.now().Add(time.Duration(window) * 24 * time.Hour).Truncate(time.Second)
		k.State, k.DeletionDate, k.PendingWindowInDays = StatePendingDeletion, &at, window
		return nil
	})
}

// CancelDeletion returns a key pending deletion to Disabled, as KMS does.
func (s *Service) CancelDeletion(ctx context.Context, r *Resolved) error {
	_, err := s.modify(ctx, r.Key.ID, func(k *Key) error {
		if k.State != StatePendingDeletion {
			return newError(CodeInvalidState, "%s is not pending deletion.", k.ARN) // unconfirmed wording
		}
		k.State, k.DeletionDate, k.PendingWindowInDays = StateDisabled, nil, 0
		return nil
	})
	return err
}

// PutPolicy replaces a key's policy ("default" is its only name).
func (s *Service) PutPolicy(ctx context.Context, r *Resolved, name, doc string) error {
	if name != "" && name != "default" {
		return newError(CodeNotFound, "No such policy exists") // recalled, unconfirmed
	}
	if doc == "" {
		return validation("policy", "Member must have length greater than or equal to 1")
	}
	if err := checkKeyPolicy(doc); err != nil {
		return err
	}
	_, err := s.modify(ctx, r.Key.ID, func(k *Key) error {
		if k.State == StatePendingDeletion {
			return s.usable(k)
		}
		k.Policy = doc
		return nil
	})
	return err
}

// Tag adds or replaces tags; Untag removes them.
func (s *Service) Tag(ctx context.Context, r *Resolved, tags []Tag) error {
	if err := checkTags(tags); err != nil {
		return err
	}
	_, err := s.modify(ctx, r.Key.ID, func(k *Key) error {
		for _, t := range tags {
			i := slices.IndexFunc(k.Tags, func(have Tag) bool { return have.TagKey == t.TagKey })
			if i >= 0 {
				k.Tags[i] = t
			} else {
				k.Tags = append(k.Tags, t)
			}
		}
		return checkTags(k.Tags)
	})
	return err
}

// Untag removes the tags with these keys.
func (s *Service) Untag(ctx context.Context, r *Resolved, tagKeys []string) error {
	_, err := s.modify(ctx, r.Key.ID, func(k *Key) error {
		k.Tags = slices.DeleteFunc(k.Tags, func(t Tag) bool { return slices.Contains(tagKeys, t.TagKey) })
		return nil
	})
	return err
}

// Keys lists every key, ordered by id.
func (s *Service) Keys(ctx context.Context) ([]*Key, error) {
	var recs []store.KMSKey
	if err := s.opts.Store.View(ctx, func(tx store.Tx) (err error) {
		recs, err = tx.ListKMSKeys(ctx)
		return err
	}); err != nil {
		return nil, err
	}
	out := make([]*Key, 0, len(recs))
	for _, rec := range recs {
		k := new(Key)
		if err := json.Unmarshal(rec.Body, k); err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, nil
}

// Alias is an alias as listed.
type Alias = store.KMSAlias

var aliasNameRE = regexp.MustCompile(`^alias/[a-zA-Z0-9/_-]+$`)

func checkAliasName(name string) error {
	switch {
	case len(name) < 1 || len(name) > 256:
		return validation("aliasName", "Member must have length less than or equal to 256")
	case !strings.HasPrefix(name, "alias/"):
		return newError(CodeValidation, "Alias must start with the prefix \"alias/\". Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html") // recalled
	case strings.HasPrefix(name, "alias/aws/"):
		return newError(CodeInvalidAliasName, "Alias %s must not begin with alias/aws/. Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html", name) // unconfirmed wording
	case !aliasNameRE.MatchString(name):
		return newError(CodeValidation, "1 validation error detected: Value '%s' at 'aliasName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$", truncate(name, 256))
	}
	return nil
}

// CreateAlias names a key.
func (s *Service) CreateAlias(ctx context.Context, name string, target *Resolved) error {
	if err := checkAliasName(name); err != nil {
		return err
	}
	if target.Key.State == StatePendingDeletion {
		return s.usable(target.Key)
	}
	now := s.now().Truncate(time.Millisecond)
	defer s.invalidate()
	err := s.opts.Store.Update(ctx, func(tx store.Tx) error {
		return tx.CreateKMSAlias(ctx, &store.KMSAlias{Name: name, KeyID: target.Key.ID, CreatedAt: now, UpdatedAt: now})
	})
	if errors.Is(err, store.ErrAlreadyExists) {
		return newError(CodeAlreadyExists, "An alias with the name %s already exists", s.AliasARN(name)) // recalled
	}
	return err
}

// UpdateAlias points an alias at another key.
func (s *Service) UpdateAlias(ctx context.Context, name string, target *Resolved) error {
	if err := checkAliasName(name); err != nil {
		return err
	}
	defer s.invalidate()
	err := s.opts.Store.Update(ctx, func(tx store.Tx) error {
		return tx.UpdateKMSAlias(ctx, name, target.Key.ID, s.now().Truncate(time.Millisecond))
	})
	if errors.Is(err, store.ErrNotFound) {
		return s.notFound(name)
	}
	return err
}

// DeleteAlias removes an alias.
func (s *Service) DeleteAlias(ctx context.Context, name string) error {
	if !strings.HasPrefix(name, "alias/") {
		return checkAliasName(name)
	}
	defer s.invalidate()
	err := s.opts.Store.Update(ctx, func(tx store.Tx) error { return tx.DeleteKMSAlias(ctx, name) })
	if errors.Is(err, store.ErrNotFound) {
		return s.notFound(name)
	}
	return err
}

// Aliases lists every alias, ordered by name.
func (s *Service) Aliases(ctx context.Context) ([]Alias, error) {
	var out []store.KMSAlias
	err := s.opts.Store.View(ctx, func(tx store.Tx) (err error) {
		out, err = tx.ListKMSAliases(ctx)
		return err
	})
	return out, err
}

// AliasNamesOf are the aliases naming key id, for kms:ResourceAliases.
func (s *Service) AliasNamesOf(ctx context.Context, id string) ([]string, error) {
	all, err := s.Aliases(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, a := range all {
		if a.KeyID == id {
			out = append(out, a.Name)
		}
	}
	return out, nil
}
