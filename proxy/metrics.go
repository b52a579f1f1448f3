package proxy

import (
	"net/http"
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/localrouter/localrouter/proxy/usage"
)

// metrics are /metrics (DESIGN §12), fed from the usage record of each
// routed request. Each server has its own registry, so servers in one
// process (tests) keep their own counts.
type metrics struct {
	reg            *prometheus.Registry
	requests       *prometheus.CounterVec
	tokens         *prometheus.CounterVec
	cost           *prometheus.CounterVec
	duration       *prometheus.HistogramVec
	ttfb           *prometheus.HistogramVec
	fallbacks      prometheus.Counter
	upstreamErrors *prometheus.CounterVec

	// Looking up a label set costs an allocation each time; a route's
	// label sets repeat, so each one's series are kept.
	mu     sync.RWMutex // guards series
	series map[seriesKey]*series
}

type seriesKey struct {
	door, side, provider, model string
	status                      int
}

type series struct {
	requests, input, output, cost prometheus.Counter
	duration, ttfb                prometheus.Observer
}

// seriesMax bounds the kept series: model names come from clients.
const seriesMax = 4096

func newMetrics() *metrics {
	m := &metrics{reg: prometheus.NewRegistry(), series: map[seriesKey]*series{}}
	route := []string{"door", "side", "provider", "model"}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "localrouter_requests_total",
		Help: "Routed requests, by front door, route and status."}, append(route, "status"))
	m.tokens = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "localrouter_tokens_total",
		Help: "Tokens in and out (the upstream's usage, else LocalRouter's estimate)."}, append(route, "kind"))
	m.cost = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "localrouter_cost_usd_total",
		Help: "Estimated cost in US dollars, from the embedded price table and usage.prices."}, []string{"side", "provider", "model"})
	buckets := []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120}
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "localrouter_request_duration_seconds",
		Help: "Time from the request to the end of its answer.", Buckets: buckets}, []string{"door", "side", "provider"})
	m.ttfb = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "localrouter_ttfb_seconds",
		Help: "Time from the request to the first byte of its answer.", Buckets: buckets}, []string{"door", "side", "provider"})
	m.fallbacks = prometheus.NewCounter(prometheus.CounterOpts{Name: "localrouter_fallbacks_total",
		Help: "Requests that fell back to the other side."})
	m.upstreamErrors = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "localrouter_upstream_errors_total",
		Help: "Failed upstream calls, fallen-back ones included, by provider and the status sent for them."}, []string{"provider", "status"})
	m.reg.MustRegister(m.requests, m.tokens, m.cost, m.duration, m.ttfb, m.fallbacks, m.upstreamErrors,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// observe counts one request. failedProvider and failedStatus name the
// route that failed before a fallback, "" and 0 when none did.
func (m *metrics) observe(u *usage.Record, failedProvider string, failedStatus int) {
	k := seriesKey{u.Door, u.Side, u.Provider, u.Model, u.Status}
	m.mu.RLock()
	s := m.series[k]
	m.mu.RUnlock()
	if s == nil {
		s = m.newSeries(k)
	}
	s.requests.Inc()
	s.input.Add(float64(u.InputTokens))
	s.output.Add(float64(u.OutputTokens))
	s.cost.Add(u.CostUSD)
	s.duration.Observe(u.Latency.Seconds())
	s.ttfb.Observe(u.TTFB.Seconds())
	if u.Fallback {
		m.fallbacks.Inc()
	}
	if failedProvider != "" {
		m.upstreamErrors.WithLabelValues(failedProvider, strconv.Itoa(failedStatus)).Inc()
	}
	if u.Provider != "" && (u.Status >= 500 || u.Status == http.StatusTooManyRequests) {
		m.upstreamErrors.WithLabelValues(u.Provider, strconv.Itoa(u.Status)).Inc()
	}
}

func (m *metrics) newSeries(k seriesKey) *series {
	status := strconv.Itoa(k.status)
	s := &series{
		requests: m.requests.WithLabelValues(k.door, k.side, k.provider, k.model, status),
		input:    m.tokens.WithLabelValues(k.door, k.side, k.provider, k.model, "input"),
		output:   m.tokens.WithLabelValues(k.door, k.side, k.provider, k.model, "output"),
		cost:     m.cost.WithLabelValues(k.side, k.provider, k.model),
		duration: m.duration.WithLabelValues(k.door, k.side, k.provider),
		ttfb:     m.ttfb.WithLabelValues(k.door, k.side, k.provider),
	}
	m.mu.Lock()
	if len(m.series) < seriesMax {
		m.series[k] = s
	}
	m.mu.Unlock()
	return s
}
