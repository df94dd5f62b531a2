package app

import (
	"context"
	"fmt"
	"github.com/oidcfed/oidcfed/internal/audit"
	"github.com/oidcfed/oidcfed/internal/audit/cloudtrail"
	"github.com/oidcfed/oidcfed/internal/kms"
	kmsapi "github.com/oidcfed/oidcfed/internal/kms/api"
	"log/slog"
	"time"

	"github.com/oidcfed/oidcfed/internal/federation"
	"github.com/oidcfed/oidcfed/internal/iam"
	iamapi "github.com/oidcfed/oidcfed/internal/iam/api"
	"github.com/oidcfed/oidcfed/internal/iam/lint"
	"github.com/oidcfed/oidcfed/internal/keys"
	"github.com/oidcfed/oidcfed/internal/sigv4"
	"github.com/oidcfed/oidcfed/internal/store"
	"github.com/oidcfed/oidcfed/internal/sts"
)

// newSTS builds the STS endpoint and the IAM API (which authenticates
// and authorizes through the same service): a verifier for the directory's OIDC
// providers (nothing is fetched until a token names one), the session
// keyring, and the handler.
// awsHandlers are the AWS-compatible services a server answers at its root.
type awsHandlers struct {
	sts        *sts.Handler
	iam        *iamapi.Handler
	cloudTrail *cloudtrail.Handler
	kms        *kmsapi.Handler
	kmsService *kms.Service
	explain    *sts.ExplainHandler
	ecr        *ecrHandlers
	// iamManager and accessKeys are the caches a replica refreshes when
	// other replicas change what they hold (accessKeys is nil unless the
	// store reports changes).
	iamManager *iam.Manager
	accessKeys *accessKeyCache
}

// newSTS builds the AWS-compatible services. With shared, the store
// reports other processes' changes (store.Notifier) and access keys are
// cached; the caller must then refresh the returned caches on every change.
func newSTS(ctx context.Context, o Options, issuerOrigin string, static *iam.Static, st store.Store, sealer *keys.Sealer, log *slog.Logger, rec audit.Recorder, records audit.Backend, shared bool) (*awsHandlers, error) {
	now := o.Now
	if now == nil {
		now = time.Now
	}
	verifier, err := federation.New(federation.Options{Now: now, Logger: log})
	if err != nil {
		return nil, err
	}
	// The verifier follows the provider set: config-declared providers
	// plus those created through the IAM API, replaced after each change.
	setProviders := func(ps []*iam.OIDCProvider) {
		fps := make([]federation.Provider, 0, len(ps))
		for _, p := range ps {
			fps = append(fps, federation.Provider{
				URL: p.URL, ClientIDs: p.ClientIDs, Thumbprints: p.Thumbprints, CABundlePEM: p.CABundlePEM,
				AllowInsecureHTTPLoopback: p.AllowInsecureHTTP,
			})
		}
		if err := verifier.SetProviders(fps); err == nil {
			return
		}
		// One provider the verifier cannot take must not take the others
		// down with it: keep every provider that is acceptable on its own.
		var ok []federation.Provider
		for _, p := range fps {
			if err := verifier.SetProviders(append(ok[:len(ok):len(ok)], p)); err != nil {
				log.Error("OIDC provider not usable for web identity", "provider", p.URL, "err", err)
				continue
			}
			ok = append(ok, p)
		}
		if err := verifier.SetProviders(ok); err != nil {
			log.Error("OIDC providers not applied", "err", err)
		}
	}
	akSource := storeAccessKeys{st: st, sealer: sealer}
	var onWrite func()
	if shared {
		akSource.cache = newAccessKeyCache()
		// An IAM write here (DeleteAccessKey, say) is enforced here at
		// once; the store's notification tells the other replicas.
		onWrite = akSource.cache.invalidate
	}
	dir := iam.NewManager(iam.ManagerOptions{
		Static: static, Store: st, Now: now, Seal: sealer.Seal,
		AllowLoopbackHTTPProviders: o.Dev, OnProvidersChanged: setProviders, OnWrite: onWrite,
	})
	providers, err := dir.ListOIDCProviders(ctx)
	if err != nil {
		return nil, fmt.Errorf("IAM OIDC providers: %w", err)
	}
	setProviders(providers)
	// Sessions are sealed under the configured generation of a key derived
	// from the master key; the previous generation still opens tokens, so
	// raising the generation by one rotates without cutting live sessions.
	gen := uint32(max(1, o.SessionKeyGeneration))
	var older []sts.SessionKey
	if gen > 1 {
		older = append(older, sts.DeriveSessionKey(sealer.DeriveKey, gen-1))
	}
	keyring, err := sts.NewSessionKeyring(sts.DeriveSessionKey(sealer.DeriveKey, gen), older...)
	if err != nil {
		return nil, err
	}
	svc := sts.NewService(dir, verifier, keyring, now, log)
	svc.UseAccessKeys(akSource)
	if o.EncodedAuthorizationMessages {
		if err := svc.EncodeAuthorizationMessages(sealer.DeriveKey(sts.AuthorizationMessageKeyInfo)); err != nil {
			return nil, err
		}
	}
	cache := sigv4.NewKeyCache(1024)
	keyService := kms.New(kms.Options{Store: st, Seal: sealer.Seal, Open: sealer.Open, Account: dir.Account(), Region: dir.Region(), Now: now})
	iamHandler := iamapi.NewHandler(dir, svc, cache, log)
	iamHandler.RecordTo(rec)
	lintMode := o.LintOnWrite
	if lintMode == "" && o.Dev {
		lintMode = "warn"
	}
	mode, err := iamapi.ParseLintMode(lintMode)
	if err != nil {
		return nil, err
	}
	failOn := lint.High
	if o.LintFailOn != "" {
		if failOn, err = lint.ParseSeverity(o.LintFailOn); err != nil {
			return nil, fmt.Errorf("lint_fail_on: %w", err)
		}
	}
	iamHandler.LintOnWrite(mode, failOn)
	ecrs, err := newECR(o, issuerOrigin, svc, st, sealer, dir.Account(), dir.Region(), cache, log, rec)
	if err != nil {
		return nil, err
	}
	return &awsHandlers{
		ecr:        ecrs,
		sts:        sts.NewHandler(svc, sts.HandlerOptions{Region: dir.Region(), KeyCache: cache, Log: log, Audit: rec}),
		iam:        iamHandler,
		cloudTrail: cloudtrail.NewHandler(svc, records, rec, dir.Account(), dir.Region(), cache, log),
		kms: kmsapi.NewHandler(kmsapi.Options{Service: keyService, Auth: svc, Audit: rec, Account: dir.Account(), Region: dir.Region(),
			KeyCache: cache, Log: log}),
		kmsService: keyService,
		explain:    sts.NewExplainHandler(svc, sts.HandlerOptions{Region: dir.Region(), KeyCache: cache, Log: log, Audit: rec}),
		iamManager: dir,
		accessKeys: akSource.cache,
	}, nil
}
