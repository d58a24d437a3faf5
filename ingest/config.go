package ingest

import (
	"fmt"
	"time"
)

// Config is the ingest section of quell's configuration. Its server
// settings (timeouts, header size, TLS) apply to the whole HTTP server that
// Server builds, API and metrics included.
type Config struct {
	// MaxBodyBytes caps a request body; larger ones get 413.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// SplunkResolveTimeout is how long a Splunk alert fires without Splunk
	// firing it again (Splunk sends no resolve).
	SplunkResolveTimeout time.Duration `yaml:"splunk_resolve_timeout"`
	// ResolveTimeout: an alert posted to /api/v2/alerts without endsAt
	// (amtool alert add, scripts) fires this long unless posted again, as
	// Alertmanager's resolve_timeout. Prometheus always sends endsAt.
	ResolveTimeout time.Duration `yaml:"resolve_timeout"`

	// WebhookTokenFiles hold the tokens the ingest routes accept, one a line;
	// none configured means the routes are open. Several files and lines let
	// a new token go live before the old one is retired.
	WebhookTokenFiles []string `yaml:"webhook_token_files"`

	// Per-request bounds on what is parsed and kept: a request beyond one is
	// answered 400 naming it. Labels are an alert's identity, kept in memory
	// as long as its incident, so they are bounded on their own.
	MaxAlertsPerRequest int `yaml:"max_alerts_per_request"`
	MaxLabelsPerAlert   int `yaml:"max_labels_per_alert"`
	MaxLabelNameBytes   int `yaml:"max_label_name_bytes"`
	MaxLabelValueBytes  int `yaml:"max_label_value_bytes"`
	// Annotations (summary, description, links) are bounded per value and
	// per alert, names and values together.
	MaxAnnotationValueBytes int `yaml:"max_annotation_value_bytes"`
	MaxAnnotationBytes      int `yaml:"max_annotation_bytes"`
	// MaxFutureSkew is how far ahead of quell's clock an alert's startsAt
	// may be; times before 1970 are always refused.
	MaxFutureSkew time.Duration `yaml:"max_future_skew"`

	// MaxConcurrentRequests bounds the ingest requests being processed
	// (parsed and handed to the bus) once their bodies have arrived; more
	// are answered 503 with Retry-After (Alertmanager retries a 5xx, but
	// not a 429).
	MaxConcurrentRequests int `yaml:"max_concurrent_requests"`
	// PublishWait is how long a request waits for room on a full bus (the
	// correlator or a sink behind, ClickHouse down) before it is answered
	// 503 with Retry-After, nothing of it accepted.
	PublishWait time.Duration `yaml:"publish_wait"`
	// A body must arrive at MinBodyRate bytes a second after BodyTimeout of
	// grace, else 408; one address may have MaxBodiesPerClient bodies
	// arriving at once, more get 503 with Retry-After. A slow sender so
	// costs only itself.
	BodyTimeout        time.Duration `yaml:"body_timeout"`
	MinBodyRate        int64         `yaml:"min_body_rate"`
	MaxBodiesPerClient int           `yaml:"max_bodies_per_client"`
	// RatePerClient, when set, is a quota: the sustained ingest requests per
	// second a client may send, RateBurst how many it may send at once; more
	// get 429 with Retry-After. A client is its token when it presents a
	// valid one, else its remote IP. Off (0) by default: Alertmanager does
	// not retry a 4xx, so a refused notification waits for its next
	// repeat_interval (hours), and every sender behind one proxy or NAT
	// would share one budget.
	RatePerClient float64 `yaml:"rate_per_client"`
	RateBurst     int     `yaml:"rate_burst"`

	// HTTP server bounds against slow or oversized requests (see Server).
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	ReadTimeout       time.Duration `yaml:"read_timeout"`
	WriteTimeout      time.Duration `yaml:"write_timeout"`
	IdleTimeout       time.Duration `yaml:"idle_timeout"`
	MaxHeaderBytes    int           `yaml:"max_header_bytes"`

	// TLSCertFile and TLSKeyFile (PEM), when set, make the server speak HTTPS.
	TLSCertFile string `yaml:"tls_cert_file"`
	TLSKeyFile  string `yaml:"tls_key_file"`
}

// DefaultConfig: 10 MiB holds an Alertmanager batch of several thousand
// alerts; 30 minutes outlasts the usual Splunk schedules (5–15 minutes).
// Kubernetes alerts carry 10–40 labels of well under 1 KiB, and a summary
// and description of a few hundred bytes; an hour is far beyond clock
// skew between servers; 64 requests of
// 10 MiB bound the bodies in memory to 640 MiB. No per-client quota: when
// quell cannot take more it answers 503, which senders retry.
// The timeouts allow a 10 MiB body over a slow link, and the write timeout
// a Kafka publish waiting out a leader election.
func DefaultConfig() Config {
	return Config{
		MaxBodyBytes: 10 << 20, SplunkResolveTimeout: 30 * time.Minute, ResolveTimeout: 5 * time.Minute,
		MaxAlertsPerRequest: 10000, MaxLabelsPerAlert: 128, MaxLabelNameBytes: 256, MaxLabelValueBytes: 4096,
		MaxAnnotationValueBytes: 16 << 10, MaxAnnotationBytes: 64 << 10, MaxFutureSkew: time.Hour,
		MaxConcurrentRequests: 64, PublishWait: 10 * time.Second, RateBurst: 200,
		BodyTimeout: 10 * time.Second, MinBodyRate: 16 << 10, MaxBodiesPerClient: 16,
		ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, WriteTimeout: time.Minute,
		IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10,
	}
}

// Validate names the first field that cannot work.
func (c Config) Validate() error {
	d := DefaultConfig()
	if c.MaxBodyBytes < 1024 {
		return fmt.Errorf("ingest.max_body_bytes is %d: set at least 1024 (the default is %d)", c.MaxBodyBytes, d.MaxBodyBytes)
	}
	if c.SplunkResolveTimeout < time.Minute {
		return fmt.Errorf("ingest.splunk_resolve_timeout is %s: set at least 1m, more than the alert's schedule interval (the default is %s)",
			c.SplunkResolveTimeout, d.SplunkResolveTimeout)
	}
	if c.ResolveTimeout < time.Second {
		return fmt.Errorf("ingest.resolve_timeout is %s: set at least 1s (the default is %s, as Alertmanager's)", c.ResolveTimeout, d.ResolveTimeout)
	}
	for _, f := range []struct {
		name      string
		v, def, m int
	}{
		{"max_alerts_per_request", c.MaxAlertsPerRequest, d.MaxAlertsPerRequest, 1},
		{"max_labels_per_alert", c.MaxLabelsPerAlert, d.MaxLabelsPerAlert, 1},
		{"max_label_name_bytes", c.MaxLabelNameBytes, d.MaxLabelNameBytes, 16},
		{"max_label_value_bytes", c.MaxLabelValueBytes, d.MaxLabelValueBytes, 16},
		{"max_annotation_value_bytes", c.MaxAnnotationValueBytes, d.MaxAnnotationValueBytes, 256},
		{"max_annotation_bytes", c.MaxAnnotationBytes, d.MaxAnnotationBytes, 1024},
		{"max_concurrent_requests", c.MaxConcurrentRequests, d.MaxConcurrentRequests, 1},
		{"max_bodies_per_client", c.MaxBodiesPerClient, d.MaxBodiesPerClient, 1},
		{"min_body_rate", int(c.MinBodyRate), int(d.MinBodyRate), 1024},
		{"max_header_bytes", c.MaxHeaderBytes, d.MaxHeaderBytes, 4096},
	} {
		if f.v < f.m {
			return fmt.Errorf("ingest.%s is %d: set at least %d (the default is %d)", f.name, f.v, f.m, f.def)
		}
	}
	if c.RatePerClient < 0 || c.RatePerClient > 0 && c.RateBurst < 1 {
		return fmt.Errorf("ingest.rate_per_client (%g) must be positive, or 0 for no limit, and ingest.rate_burst (%d) at least 1 (the defaults are %g and %d)",
			c.RatePerClient, c.RateBurst, d.RatePerClient, d.RateBurst)
	}
	for _, f := range []struct {
		name   string
		v, def time.Duration
	}{
		{"read_header_timeout", c.ReadHeaderTimeout, d.ReadHeaderTimeout}, {"read_timeout", c.ReadTimeout, d.ReadTimeout},
		{"body_timeout", c.BodyTimeout, d.BodyTimeout}, {"max_future_skew", c.MaxFutureSkew, d.MaxFutureSkew},
		{"publish_wait", c.PublishWait, d.PublishWait},
		{"write_timeout", c.WriteTimeout, d.WriteTimeout}, {"idle_timeout", c.IdleTimeout, d.IdleTimeout},
	} {
		if f.v <= 0 {
			return fmt.Errorf("ingest.%s is %s: set a positive duration; without one a slow client holds a connection forever (the default is %s)", f.name, f.v, f.def)
		}
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		return fmt.Errorf("ingest.tls_cert_file (%q) and ingest.tls_key_file (%q): set both for HTTPS, or neither", c.TLSCertFile, c.TLSKeyFile)
	}
	return nil
}
