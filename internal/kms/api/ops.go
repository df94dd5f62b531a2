package api

import (
	"github.com/oidcfed/oidcfed/internal/audit"
	"github.com/oidcfed/oidcfed/internal/kms"
)

// keyMetadata is KMS's KeyMetadata element.
type keyMetadata struct {
	AWSAccountID                string   `json:"AWSAccountId"`
	KeyID                       string   `json:"KeyId"`
	Arn                         string   `json:"Arn"`
	CreationDate                float64  `json:"CreationDate"`
	Enabled                     bool     `json:"Enabled"`
	Description                 string   `json:"Description"`
	KeyUsage                    string   `json:"KeyUsage"`
	KeyState                    string   `json:"KeyState"`
	DeletionDate                *float64 `json:"DeletionDate,omitempty"`
	Origin                      string   `json:"Origin"`
	KeyManager                  string   `json:"KeyManager"`
	CustomerMasterKeySpec       string   `json:"CustomerMasterKeySpec"`
	KeySpec                     string   `json:"KeySpec"`
	SigningAlgorithms           []string `json:"SigningAlgorithms,omitempty"`
	EncryptionAlgorithms        []string `json:"EncryptionAlgorithms,omitempty"`
	MacAlgorithms               []string `json:"MacAlgorithms,omitempty"`
	MultiRegion                 bool     `json:"MultiRegion"`
	PendingDeletionWindowInDays *int     `json:"PendingDeletionWindowInDays,omitempty"`
}

func metadata(k *kms.Key) keyMetadata {
	m := keyMetadata{AWSAccountID: k.Account, KeyID: k.ID, Arn: k.ARN, CreationDate: epoch(k.CreationDate), Enabled: k.State == kms.StateEnabled,
		Description: k.Description, KeyUsage: k.KeyUsage, KeyState: k.State, Origin: "AWS_KMS", KeyManager: "CUSTOMER",
		CustomerMasterKeySpec: k.KeySpec, KeySpec: k.KeySpec, SigningAlgorithms: k.SigningAlgorithms(),
		EncryptionAlgorithms: k.EncryptionAlgorithms(), MacAlgorithms: k.MacAlgorithms()}
	if k.DeletionDate != nil {
		d := epoch(*k.DeletionDate)
		m.DeletionDate = &d
		w := k.PendingWindowInDays
		m.PendingDeletionWindowInDays = &w
	}
	return m
}

type keyRequest struct {
	KeyID string `json:"KeyId"`
}

func (h *Handler) createKey(c *call) (any, error) {
	var in struct {
		Policy, Description, KeyUsage, KeySpec, CustomerMasterKeySpec, Origin, CustomKeyStoreId, XksKeyId string
		Tags                                                                                              []kms.Tag
		BypassPolicyLockoutSafetyCheck                                                                    bool
		MultiRegion                                                                                       *bool
	}
	if err := decode(c, &in); err != nil {
		return nil, err
	}
	c.ev.RequestParameters = map[string]any{"description": audit.Value(in.Description, 256), "keyUsage": in.KeyUsage,
		"keySpec": firstOf(in.KeySpec, in.CustomerMasterKeySpec)}
	if err := h.authorizeIAM(c, "kms:CreateKey", nil); err != nil {
		return nil, err
	}
	if in.Policy != "" && !in.BypassPolicyLockoutSafetyCheck {
		if err := h.lockoutSafe(c, in.Policy, "*"); err != nil {
			return nil, err
		}
	}
	if in.CustomKeyStoreId != "" || in.XksKeyId != "" {
		return nil, &kms.Error{Code: kms.CodeUnsupportedOp, Message: "Custom key stores are not supported by this server."}
	}
	k, err := h.svc.CreateKey(c.ctx, kms.CreateKeyInput{Description: in.Description, KeyUsage: in.KeyUsage, KeySpec: in.KeySpec,
		CustomerMasterKeySpec: in.CustomerMasterKeySpec, Policy: in.Policy, Origin: in.Origin, Tags: in.Tags,
		MultiRegion: in.MultiRegion != nil && *in.MultiRegion, BypassPolicyLockoutSafetyCheck: in.BypassPolicyLockoutSafetyCheck})
	if err != nil {
		return nil, err
	}
	m := metadata(k)
	c.ev.ResponseElements = map[string]any{"keyMetadata": m}
	return map[string]any{"KeyMetadata": m}, nil
}

func firstOf(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// keyOp resolves the request's KeyId and authorizes action on it.
func (h *Handler) keyOp(c *call, action string, in any, keyID func() string, reqCtx map[string][]string) (*kms.Resolved, error) {
	if err := decode(c, in); err != nil {
		return nil, err
	}
	if c.ev.RequestParameters == nil {
		c.ev.RequestParameters = map[string]any{}
	}
	c.ev.RequestParameters["keyId"] = audit.Value(keyID(), 2048)
	r, err := h.resolve(c, keyID())
	if err != nil {
		return nil, err
	}
	if err := h.authorizeKey(c, action, r, reqCtx); err != nil {
		return nil, err
	}
	return r, nil
}

func (h *Handler) describeKey(c *call) (any, error) {
	var in keyRequest
	r, err := h.keyOp(c, "kms:DescribeKey", &in, func() string { return in.KeyID }, nil)
	if err != nil {
		return nil, err
	}
	return map[string]any{"KeyMetadata": metadata(r.Key)}, nil
}

func (h *Handler) getPublicKey(c *call) (any, error) {
	var in keyRequest
	r, err := h.keyOp(c, "kms:GetPublicKey", &in, func() string { return in.KeyID }, nil)
	if err != nil {
		return nil, err
	}
	pub, err := h.svc.PublicKey(r)
	if err != nil {
		return nil, err
	}
	return map[string]any{"KeyId": r.Key.ARN, "PublicKey": pub, "CustomerMasterKeySpec": r.Key.KeySpec, "KeySpec": r.Key.KeySpec,
		"KeyUsage": r.Key.KeyUsage, "SigningAlgorithms": r.Key.SigningAlgorithms()}, nil
}

type signResponse struct {
	KeyID            string `json:"KeyId"`
	Signature        []byte
	SigningAlgorithm string
}

type signRequest struct {
	KeyID            string `json:"KeyId"`
	Message          []byte
	MessageType      string
	SigningAlgorithm string
	Signature        []byte
	DryRun           *bool
}

func (h *Handler) signOp(c *call, action string) (*kms.Resolved, signRequest, error) {
	var in signRequest
	if !decodeSignRequestFast(c.body, &in) {
		// Decoded apart: what encoding/json is given escapes, and the usual
		// request should not pay for that.
		slow := new(signRequest)
		if err := decode(c, slow); err != nil {
			return nil, in, err
		}
		in = *slow
	}
	c.ev.RequestParameters = map[string]any{"keyId": audit.Value(in.KeyID, 2048), "signingAlgorithm": audit.Value(in.SigningAlgorithm, 64),
		"messageType": firstOf(audit.Value(in.MessageType, 64), "RAW")}
	if in.SigningAlgorithm == "" {
		return nil, in, &kms.Error{Code: kms.CodeValidation, Message: "1 validation error detected: Value null at 'signingAlgorithm' failed to satisfy constraint: Member must not be null"}
	}
	if in.Message == nil {
		return nil, in, &kms.Error{Code: kms.CodeValidation, Message: "1 validation error detected: Value null at 'message' failed to satisfy constraint: Member must not be null"}
	}
	if in.DryRun != nil && *in.DryRun {
		return nil, in, &kms.Error{Code: kms.CodeUnsupportedOp, Message: "DryRun is not supported by this server."}
	}
	r, err := h.resolve(c, in.KeyID)
	if err != nil {
		return nil, in, err
	}
	reqCtx := h.keyContext(c, 2)
	values := []string{in.SigningAlgorithm, firstOf(in.MessageType, "RAW")} // one allocation for both
	reqCtx["kms:signingalgorithm"] = values[0:1:1]
	reqCtx["kms:messagetype"] = values[1:2:2]
	if err := h.authorizeKey(c, action, r, reqCtx); err != nil {
		return nil, in, err
	}
	return r, in, nil
}

func (h *Handler) sign(c *call) (any, error) {
	r, in, err := h.signOp(c, "kms:Sign")
	if err != nil {
		return nil, err
	}
	sig, err := h.svc.Sign(r, in.Message, in.MessageType, in.SigningAlgorithm)
	if err != nil {
		return nil, err
	}
	return signResponse{KeyID: r.Key.ARN, Signature: sig, SigningAlgorithm: in.SigningAlgorithm}, nil
}

func (h *Handler) verify(c *call) (any, error) {
	r, in, err := h.signOp(c, "kms:Verify")
	if err != nil {
		return nil, err
	}
	if in.Signature == nil {
		return nil, &kms.Error{Code: kms.CodeValidation, Message: "1 validation error detected: Value null at 'signature' failed to satisfy constraint: Member must not be null"}
	}
	if err := h.svc.Verify(r, in.Message, in.MessageType, in.SigningAlgorithm, in.Signature); err != nil {
		return nil, err
	}
	return map[string]any{"KeyId": r.Key.ARN, "SignatureValid": true, "SigningAlgorithm": in.SigningAlgorithm}, nil
}
