package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/oidcfed/oidcfed/internal/audit"
	"github.com/oidcfed/oidcfed/internal/ecr"
	ecrapi "github.com/oidcfed/oidcfed/internal/ecr/api"
	"github.com/oidcfed/oidcfed/internal/keys"
	"github.com/oidcfed/oidcfed/internal/registry"
	"github.com/oidcfed/oidcfed/internal/sigv4"
	"github.com/oidcfed/oidcfed/internal/store"
	"github.com/oidcfed/oidcfed/internal/sts"
)

// RegistryDirName is the registry's directory inside the data directory
// (blobs and upload sessions).
const RegistryDirName = "registry"

// ecrHandlers are ECR's API (at the root, by X-Amz-Target) and its
// registry (at /v2/ on the same listener, so the proxyEndpoint
// GetAuthorizationToken answers is the server's own URL unless the
// configuration names another, e.g. a TLS front end's).
type ecrHandlers struct {
	api      *ecrapi.Handler
	registry *registry.Handler
	service  *ecr.Service
}

// registryURL is the proxyEndpoint: the configured registry URL, or the
// origin of the issuer URL, the address clients already reach this server
// at (the listen address itself in dev mode; a bind address like
// 0.0.0.0:8080 would be no use to them).
func (o *Options) registryURL(origin string) string {
	if o.RegistryURL != "" {
		return strings.TrimSuffix(o.RegistryURL, "/")
	}
	return origin
}

func newECR(o Options, origin string, svc *sts.Service, st store.Store, sealer *keys.Sealer, account, region string, cache *sigv4.KeyCache,
	log *slog.Logger, rec audit.Recorder) (*ecrHandlers, error) {
	proxy := o.registryURL(origin)
	u, err := url.Parse(proxy)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") || (u.Path != "" && u.Path != "/") {
		return nil, fmt.Errorf("registry URL %q: want http(s)://host[:port]", proxy)
	}
	service, err := ecr.New(ecr.Options{Store: st, Dir: filepath.Join(o.DataDir, RegistryDirName), Account: account, Region: region,
		RegistryHost: u.Host, Now: o.Now, MaxBlobSize: o.RegistryMaxBlobSize})
	if err != nil {
		return nil, err
	}
	tokens, err := ecr.NewTokens(sealer.DeriveKey(ecr.TokenKeyInfo), account)
	if err != nil {
		return nil, err
	}
	downloads := ecr.NewDownloadURLs(sealer.DeriveKey(ecr.DownloadKeyInfo), proxy)
	api := ecrapi.NewHandler(ecrapi.Options{Service: service, Auth: svc, Tokens: tokens, Downloads: downloads, ProxyEndpoint: proxy,
		Audit: rec, KeyCache: cache, Log: log})
	reg := registry.New(registry.Options{Service: service, Auth: svc, Tokens: tokens, Downloads: downloads, Authorizer: api,
		Realm: proxy, Audit: rec, Log: log})
	return &ecrHandlers{api: api, registry: reg, service: service}, nil
}

// registryGCInterval is how often unlinked blobs are looked for; a blob
// is removed once unlinked for this long.
const registryGCInterval = time.Hour

// collectRegistryGarbage removes blob files no repository links (left by
// deleted repositories), hourly, until ctx ends.
func collectRegistryGarbage(ctx context.Context, svc *ecr.Service, now func() time.Time, log *slog.Logger) {
	t := time.NewTicker(registryGCInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n, err := svc.CollectGarbage(ctx, now().Add(-registryGCInterval))
			switch {
			case err != nil && ctx.Err() == nil:
				log.Error("registry garbage collection failed", "cause", err)
			case n > 0:
				log.Info("registry blobs removed", "removed", n)
			}
		}
	}
}
