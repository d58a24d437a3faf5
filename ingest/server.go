package ingest

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
)

// Server returns an http.Server for h with c's bounds: a client that
// trickles its headers or body, or idles on a connection, is cut off, and
// headers are capped. With TLSCertFile and TLSKeyFile set it carries their
// certificate; serve it with Serve. log (nil: discarded) receives the
// server's own errors, such as failed TLS handshakes.
func (c Config) Server(h http.Handler, log *slog.Logger) (*http.Server, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: c.ReadHeaderTimeout,
		ReadTimeout:       c.ReadTimeout,
		WriteTimeout:      c.WriteTimeout,
		IdleTimeout:       c.IdleTimeout,
		MaxHeaderBytes:    c.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	if c.TLSCertFile != "" {
		var err error
		if srv.TLSConfig, err = LoadTLS(c.TLSCertFile, c.TLSKeyFile); err != nil {
			return nil, err
		}
	}
	return srv, nil
}

// LoadTLS loads a PEM certificate (with its chain) and key into a server
// TLS configuration that refuses versions older than TLS 1.2.
func LoadTLS(certFile, keyFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("TLS certificate %s and key %s: %w; check both are PEM files and the key matches the certificate", certFile, keyFile, err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// Serve serves srv on ln, over TLS when srv has a TLS configuration (from
// Server), until srv is shut down.
func Serve(srv *http.Server, ln net.Listener) error {
	if srv.TLSConfig != nil {
		return srv.ServeTLS(ln, "", "")
	}
	return srv.Serve(ln)
}
