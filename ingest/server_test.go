package ingest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// selfSigned writes a certificate for 127.0.0.1 and its key as PEM files.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "quell test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// serveTest serves h as serve would: Config.Server and Serve on a real listener.
func serveTest(t *testing.T, cfg Config, h http.Handler) string {
	t.Helper()
	srv, err := cfg.Server(h, nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go Serve(srv, ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

func TestServerTLS(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t)
	cfg := DefaultConfig()
	cfg.TLSCertFile, cfg.TLSKeyFile = certFile, keyFile
	addr := serveTest(t, cfg, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))

	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Get("https://" + addr + "/healthz")
	if err != nil {
		t.Fatalf("HTTPS request: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.TLS == nil || string(body) != "ok" {
		t.Errorf("TLS %v, body %q; want an answer over TLS", resp.TLS != nil, body)
	}
	old := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}}}
	if _, err := old.Get("https://" + addr + "/healthz"); err == nil || !strings.Contains(err.Error(), "protocol version") {
		t.Errorf("a TLS 1.1 client: %v; want a protocol version alert (TLS 1.2 at least)", err)
	}

	if _, err := LoadTLS(keyFile, certFile); err == nil {
		t.Errorf("LoadTLS accepted the key as certificate")
	}
	cfg.TLSKeyFile = filepath.Join(t.TempDir(), "missing.pem")
	if _, err := cfg.Server(http.NotFoundHandler(), nil); err == nil {
		t.Errorf("Server accepted a missing key file")
	}
}

// TestServerSlowHeaders: a client trickling its headers is cut off after
// read_header_timeout instead of holding the connection.
func TestServerSlowHeaders(t *testing.T) {
	cfg := DefaultConfig()
	cfg.ReadHeaderTimeout = 200 * time.Millisecond
	addr := serveTest(t, cfg, http.NotFoundHandler())
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	io.WriteString(conn, "POST /webhooks/alertmanager HTTP/1.1\r\nHost: x\r\n")
	go func() {
		for range 20 {
			time.Sleep(50 * time.Millisecond)
			if _, err := io.WriteString(conn, "X-Slow: 1\r\n"); err != nil {
				return
			}
		}
	}()
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	io.Copy(io.Discard, conn) // returns when the server closes
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the server held a trickling client %s, want about %s", d, cfg.ReadHeaderTimeout)
	}
}

func TestServerBounds(t *testing.T) {
	cfg := DefaultConfig()
	srv, err := cfg.Server(http.NotFoundHandler(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if srv.ReadHeaderTimeout != cfg.ReadHeaderTimeout || srv.ReadTimeout != cfg.ReadTimeout || srv.WriteTimeout != cfg.WriteTimeout ||
		srv.IdleTimeout != cfg.IdleTimeout || srv.MaxHeaderBytes != cfg.MaxHeaderBytes || srv.TLSConfig != nil {
		t.Errorf("server %+v does not carry the config's bounds %+v", srv, cfg)
	}
}
