package api

import (
	"crypto/rand"
	"github.com/oidcfed/oidcfed/internal/audit"
	"strings"

	"github.com/oidcfed/oidcfed/internal/kms"
)

// Symmetric encryption, data keys, random bytes and MACs. Plaintexts and
// data keys never reach the audit event; the encryption context does, as
// CloudTrail records it.

type cipherRequest struct {
	KeyID               string `json:"KeyId"`
	Plaintext           []byte
	CiphertextBlob      []byte
	EncryptionContext   map[string]string
	EncryptionAlgorithm string
	NumberOfBytes       *int
	KeySpec             string
	Message             []byte
	MacAlgorithm        string
	Mac                 []byte
	DryRun              *bool
}

// contextKeys are the encryption context's condition keys.
func contextKeys(ctx map[string]string, reqCtx map[string][]string) map[string][]string {
	if reqCtx == nil {
		reqCtx = map[string][]string{}
	}
	keys := make([]string, 0, len(ctx))
	for k, v := range ctx {
		reqCtx["kms:encryptioncontext:"+strings.ToLower(k)] = []string{v}
		keys = append(keys, k)
	}
	if len(keys) > 0 {
		reqCtx["kms:encryptioncontextkeys"] = keys
	}
	return reqCtx
}

func (h *Handler) cipherOp(c *call, action string, in *cipherRequest) (*kms.Resolved, error) {
	if err := decode(c, in); err != nil {
		return nil, err
	}
	c.ev.RequestParameters = map[string]any{"keyId": audit.Value(in.KeyID, 2048)}
	if len(in.EncryptionContext) > 0 {
		c.ev.RequestParameters["encryptionContext"] = in.EncryptionContext
	}
	if in.DryRun != nil && *in.DryRun {
		return nil, &kms.Error{Code: kms.CodeUnsupportedOp, Message: "DryRun is not supported by this server."}
	}
	r, err := h.resolve(c, in.KeyID)
	if err != nil {
		return nil, err
	}
	reqCtx := contextKeys(in.EncryptionContext, nil)
	if in.EncryptionAlgorithm != "" {
		reqCtx["kms:encryptionalgorithm"] = []string{in.EncryptionAlgorithm}
	}
	if err := h.authorizeKey(c, action, r, reqCtx); err != nil {
		return nil, err
	}
	return r, nil
}

func (h *Handler) encrypt(c *call) (any, error) {
	var in cipherRequest
	r, err := h.cipherOp(c, "kms:Encrypt", &in)
	if err != nil {
		return nil, err
	}
	blob, err := h.svc.Encrypt(r, in.Plaintext, in.EncryptionContext, in.EncryptionAlgorithm)
	if err != nil {
		return nil, err
	}
	return map[string]any{"CiphertextBlob": blob, "KeyId": r.Key.ARN, "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}, nil
}

// blobKey resolves the key a Decrypt or ReEncrypt names: its KeyId when
// given, else the ciphertext's own.
func (h *Handler) blobKey(c *call, keyID string, blob []byte, action string, ctx map[string]string) (*kms.Resolved, error) {
	if len(blob) == 0 {
		return nil, &kms.Error{Code: kms.CodeValidation, Message: "1 validation error detected: Value null at 'ciphertextBlob' failed to satisfy constraint: Member must not be null"}
	}
	id, ok := kms.BlobKeyID(blob)
	if keyID == "" {
		if !ok {
			return nil, &kms.Error{Code: kms.CodeInvalidCiphertext, Message: ""}
		}
		keyID = id
	}
	r, err := h.resolve(c, keyID)
	if err != nil {
		return nil, err
	}
	if err := h.authorizeKey(c, action, r, contextKeys(ctx, nil)); err != nil {
		return nil, err
	}
	return r, nil
}

func (h *Handler) decrypt(c *call) (any, error) {
	var in cipherRequest
	if err := decode(c, &in); err != nil {
		return nil, err
	}
	c.ev.RequestParameters = map[string]any{"keyId": audit.Value(in.KeyID, 2048), "encryptionAlgorithm": firstOf(in.EncryptionAlgorithm, "SYMMETRIC_DEFAULT")}
	if len(in.EncryptionContext) > 0 {
		c.ev.RequestParameters["encryptionContext"] = in.EncryptionContext
	}
	r, err := h.blobKey(c, in.KeyID, in.CiphertextBlob, "kms:Decrypt", in.EncryptionContext)
	if err != nil {
		return nil, err
	}
	plaintext, err := h.svc.Decrypt(r, in.CiphertextBlob, in.EncryptionContext)
	if err != nil {
		return nil, err
	}
	return map[string]any{"KeyId": r.Key.ARN, "Plaintext": plaintext, "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"}, nil
}

func (h *Handler) reEncrypt(c *call) (any, error) {
	var in struct {
		CiphertextBlob               []byte
		SourceEncryptionContext      map[string]string
		SourceKeyID                  string `json:"SourceKeyId"`
		DestinationKeyID             string `json:"DestinationKeyId"`
		DestinationEncryptionContext map[string]string
	}
	if err := decode(c, &in); err != nil {
		return nil, err
	}
	c.ev.RequestParameters = map[string]any{"sourceKeyId": audit.Value(in.SourceKeyID, 2048), "destinationKeyId": audit.Value(in.DestinationKeyID, 2048)}
	src, err := h.blobKey(c, in.SourceKeyID, in.CiphertextBlob, "kms:ReEncryptFrom", in.SourceEncryptionContext)
	if err != nil {
		return nil, err
	}
	if in.DestinationKeyID == "" {
		return nil, &kms.Error{Code: kms.CodeValidation, Message: "1 validation error detected: Value null at 'destinationKeyId' failed to satisfy constraint: Member must not be null"}
	}
	dst, err := h.resolve(c, in.DestinationKeyID)
	if err != nil {
		return nil, err
	}
	if err := h.authorizeKey(c, "kms:ReEncryptTo", dst, contextKeys(in.DestinationEncryptionContext, nil)); err != nil {
		return nil, err
	}
	plaintext, err := h.svc.Decrypt(src, in.CiphertextBlob, in.SourceEncryptionContext)
	if err != nil {
		return nil, err
	}
	defer clear(plaintext)
	blob, err := h.svc.Encrypt(dst, plaintext, in.DestinationEncryptionContext, "")
	if err != nil {
		return nil, err
	}
	return map[string]any{"CiphertextBlob": blob, "SourceKeyId": src.Key.ARN, "KeyId": dst.Key.ARN,
		"SourceEncryptionAlgorithm": "SYMMETRIC_DEFAULT", "DestinationEncryptionAlgorithm": "SYMMETRIC_DEFAULT"}, nil
}

func (h *Handler) dataKey(c *call, action string, withPlaintext bool) (any, error) {
	var in cipherRequest
	r, err := h.cipherOp(c, action, &in)
	if err != nil {
		return nil, err
	}
	n, err := kms.DataKeySize(in.NumberOfBytes, in.KeySpec)
	if err != nil {
		return nil, err
	}
	if in.KeySpec != "" {
		c.ev.RequestParameters["keySpec"] = in.KeySpec
	} else {
		c.ev.RequestParameters["numberOfBytes"] = n
	}
	plaintext := make([]byte, n)
	if _, err := rand.Read(plaintext); err != nil {
		return nil, err
	}
	blob, err := h.svc.Encrypt(r, plaintext, in.EncryptionContext, "")
	if err != nil {
		return nil, err
	}
	out := map[string]any{"CiphertextBlob": blob, "KeyId": r.Key.ARN}
	if withPlaintext {
		out["Plaintext"] = plaintext
	}
	return out, nil
}

func (h *Handler) generateDataKey(c *call) (any, error) {
	return h.dataKey(c, "kms:GenerateDataKey", true)
}

func (h *Handler) generateDataKeyWithoutPlaintext(c *call) (any, error) {
	return h.dataKey(c, "kms:GenerateDataKeyWithoutPlaintext", false)
}

func (h *Handler) generateRandom(c *call) (any, error) {
	var in struct {
		NumberOfBytes    *int
		CustomKeyStoreID string `json:"CustomKeyStoreId"`
	}
	if err := decode(c, &in); err != nil {
		return nil, err
	}
	if err := h.authorizeIAM(c, "kms:GenerateRandom", nil); err != nil {
		return nil, err
	}
	if in.NumberOfBytes == nil {
		return nil, &kms.Error{Code: kms.CodeValidation, Message: "1 validation error detected: Value null at 'numberOfBytes' failed to satisfy constraint: Member must not be null"} // unconfirmed: AWS may default
	}
	n, err := kms.DataKeySize(in.NumberOfBytes, "")
	if err != nil {
		return nil, err
	}
	c.ev.RequestParameters = map[string]any{"numberOfBytes": n}
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	return map[string]any{"Plaintext": b}, nil
}

func (h *Handler) macOp(c *call, action string) (*kms.Resolved, *cipherRequest, error) {
	var in cipherRequest
	if err := decode(c, &in); err != nil {
		return nil, nil, err
	}
	c.ev.RequestParameters = map[string]any{"keyId": audit.Value(in.KeyID, 2048), "macAlgorithm": audit.Value(in.MacAlgorithm, 64)}
	r, err := h.resolve(c, in.KeyID)
	if err != nil {
		return nil, nil, err
	}
	reqCtx := map[string][]string{"kms:macalgorithm": {in.MacAlgorithm}}
	if err := h.authorizeKey(c, action, r, reqCtx); err != nil {
		return nil, nil, err
	}
	return r, &in, nil
}

func (h *Handler) generateMac(c *call) (any, error) {
	r, in, err := h.macOp(c, "kms:GenerateMac")
	if err != nil {
		return nil, err
	}
	mac, err := h.svc.GenerateMac(r, in.Message, in.MacAlgorithm)
	if err != nil {
		return nil, err
	}
	return map[string]any{"Mac": mac, "MacAlgorithm": in.MacAlgorithm, "KeyId": r.Key.ARN}, nil
}

func (h *Handler) verifyMac(c *call) (any, error) {
	r, in, err := h.macOp(c, "kms:VerifyMac")
	if err != nil {
		return nil, err
	}
	if err := h.svc.VerifyMac(r, in.Message, in.MacAlgorithm, in.Mac); err != nil {
		return nil, err
	}
	return map[string]any{"KeyId": r.Key.ARN, "MacValid": true, "MacAlgorithm": in.MacAlgorithm}, nil
}
