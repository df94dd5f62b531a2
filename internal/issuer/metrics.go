package issuer

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the issuer's own Prometheus collectors.
type Metrics struct {
	mintSeconds *prometheus.HistogramVec
}

// NewMetrics registers the issuer's collectors with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		mintSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "oidcfed_issuer_mint_duration_seconds",
			Help: "Time to validate, build and sign one ID token, by outcome.",
			// RS256 signing dominates (about 1 ms); ES256 is ~20x faster.
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1},
		}, []string{"outcome"}),
	}
	reg.MustRegister(m.mintSeconds)
	return m
}

func (m *Metrics) observeMint(start time.Time, err error) {
	outcome := "ok"
	var fe *FieldError
	var ce *ConstraintError
	switch {
	case err == nil:
	case errors.As(err, &fe):
		outcome = "invalid"
	case errors.As(err, &ce):
		outcome = "forbidden"
	default:
		outcome = "error"
	}
	m.mintSeconds.WithLabelValues(outcome).Observe(time.Since(start).Seconds())
}
