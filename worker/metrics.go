package worker

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	prom "github.com/prometheus/client_golang/prometheus"
	"github.com/uber-go/tally/v4"
	tallyprom "github.com/uber-go/tally/v4/prometheus"
	sdktally "go.temporal.io/sdk/contrib/tally"
)

// MetricsReportInterval is how often the metrics of a PrometheusMetrics scope reach /metrics.
const MetricsReportInterval = time.Second

// PoolMetricsPrefix is the prefix of the pools' metrics on Options.Metrics, e.g.
// snakepool_pool_capacity.
const PoolMetricsPrefix = "snakepool"

// PrometheusMetrics is a tally scope whose metrics are served in the Prometheus text format: the
// Temporal SDK's (temporal_*, through go.temporal.io/sdk/contrib/tally), the pools' (snakepool_*)
// and the Go runtime's and process's (go_*, process_*).
type PrometheusMetrics struct {
	scope   tally.Scope
	closer  io.Closer
	handler http.Handler
}

// NewPrometheusMetrics creates the scope and its registry. Metrics whose label sets clash are
// logged to logger (once per metric name) rather than served.
func NewPrometheusMetrics(logger *slog.Logger) *PrometheusMetrics {
	if logger == nil {
		logger = slog.Default()
	}
	registry := prom.NewRegistry()
	registry.MustRegister(prom.NewGoCollector(), prom.NewProcessCollector(prom.ProcessCollectorOpts{}))
	var logged sync.Map
	reporter := tallyprom.NewReporter(tallyprom.Options{
		Registerer:       registry,
		Gatherer:         registry,
		DefaultTimerType: tallyprom.HistogramTimerType,
		OnRegisterError: func(err error) {
			if _, seen := logged.LoadOrStore(err.Error(), true); !seen {
				logger.Warn("Metric not exported", "error", err)
			}
		},
	})
	root, closer := tally.NewRootScope(tally.ScopeOptions{
		CachedReporter:  reporter,
		Separator:       tallyprom.DefaultSeparator,
		SanitizeOptions: &sdktally.PrometheusSanitizeOptions,
	}, MetricsReportInterval)
	return &PrometheusMetrics{
		scope:   sdktally.NewPrometheusNamingScope(root),
		closer:  closer,
		handler: reporter.HTTPHandler(),
	}
}

// Scope is the scope to pass as Options.Metrics. Counters get the suffix _total and timers and
// histograms _seconds, as Prometheus names them.
func (m *PrometheusMetrics) Scope() tally.Scope { return m.scope }

// Handler serves the metrics in the Prometheus text format (the /metrics endpoint).
func (m *PrometheusMetrics) Handler() http.Handler { return m.handler }

// Close stops reporting.
func (m *PrometheusMetrics) Close() error {
	if err := m.closer.Close(); err != nil {
		return fmt.Errorf("worker: close the metrics scope: %w", err)
	}
	return nil
}
