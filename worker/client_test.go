package worker_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"

	"github.com/snakepool/snakepool/worker"
)

// pki is a test CA with a server certificate for localhost and a client certificate, as PEM files.
type pki struct {
	dir                           string
	caFile, certFile, keyFile     string // the CA, and the client's certificate and key
	serverCert                    tls.Certificate
	roots                         *x509.CertPool
	otherCAFile                   string // a CA that signed nothing here
	otherCertFile, otherKeyFile   string // a client certificate from the other CA
	serverCertFile, serverKeyFile string
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	dir := t.TempDir()
	p := &pki{dir: dir}
	caCert, caKey := newCA(t, "test CA")
	p.caFile = writePEM(t, dir, "ca.pem", "CERTIFICATE", caCert.Raw)
	p.roots = x509.NewCertPool()
	p.roots.AddCert(caCert)
	p.serverCertFile, p.serverKeyFile = issue(t, dir, "server", caCert, caKey, &x509.Certificate{
		Subject: pkix.Name{CommonName: "localhost"}, DNSNames: []string{"localhost"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	var err error
	p.serverCert, err = tls.LoadX509KeyPair(p.serverCertFile, p.serverKeyFile)
	require.NoError(t, err)
	p.certFile, p.keyFile = issue(t, dir, "client", caCert, caKey, &x509.Certificate{
		Subject: pkix.Name{CommonName: "snakepool-worker"}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	otherCert, otherKey := newCA(t, "other CA")
	p.otherCAFile = writePEM(t, dir, "other-ca.pem", "CERTIFICATE", otherCert.Raw)
	p.otherCertFile, p.otherKeyFile = issue(t, dir, "other-client", otherCert, otherKey, &x509.Certificate{
		Subject: pkix.Name{CommonName: "intruder"}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	return p
}

var serial int64

func newCA(t *testing.T, name string) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	serial++
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	return cert, key
}

// issue signs tmpl with the CA and writes the certificate and its key; it returns their paths.
func issue(t *testing.T, dir, name string, ca *x509.Certificate, caKey *ecdsa.PrivateKey, tmpl *x509.Certificate) (string, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	serial++
	tmpl.SerialNumber = big.NewInt(serial)
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	require.NoError(t, err)
	keyDER, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	return writePEM(t, dir, name+".pem", "CERTIFICATE", der), writePEM(t, dir, name+".key", "EC PRIVATE KEY", keyDER)
}

func writePEM(t *testing.T, dir, name, kind string, der []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600))
	return path
}

// fakeFrontend is a Temporal frontend that answers GetSystemInfo (what client.Dial calls) and
// records the authorization header.
type fakeFrontend struct {
	workflowservice.UnimplementedWorkflowServiceServer
	mu            sync.Mutex
	authorization []string
}

func (f *fakeFrontend) GetSystemInfo(ctx context.Context, _ *workflowservice.GetSystemInfoRequest) (*workflowservice.GetSystemInfoResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	f.mu.Lock()
	f.authorization = append(f.authorization, md.Get("authorization")...)
	f.mu.Unlock()
	return &workflowservice.GetSystemInfoResponse{}, nil
}

func (f *fakeFrontend) auth() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.authorization...)
}

// startFrontend serves a fakeFrontend over TLS with the PKI's server certificate; with mTLS it
// requires a client certificate of the PKI's CA. It returns its address "localhost:port".
func startFrontend(t *testing.T, p *pki, mTLS bool) (string, *fakeFrontend) {
	t.Helper()
	cfg := &tls.Config{Certificates: []tls.Certificate{p.serverCert}, MinVersion: tls.VersionTLS12}
	if mTLS {
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
		cfg.ClientCAs = p.roots
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := grpc.NewServer(grpc.Creds(credentials.NewTLS(cfg)))
	front := &fakeFrontend{}
	workflowservice.RegisterWorkflowServiceServer(srv, front)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	_, port, err := net.SplitHostPort(lis.Addr().String())
	require.NoError(t, err)
	return net.JoinHostPort("localhost", port), front
}

// TestClientOptionsConnect dials a TLS frontend with the options of several configs.
func TestClientOptionsConnect(t *testing.T) {
	p := newPKI(t)
	keyFile := filepath.Join(p.dir, "api-key")
	require.NoError(t, os.WriteFile(keyFile, []byte("  key-from-file\n"), 0o600))
	tests := []struct {
		name     string
		mTLS     bool
		tls      worker.TLSConfig
		apiKey   string
		keyFile  string
		wantAuth []string
	}{
		{name: "TLS with the config's CA", tls: worker.TLSConfig{CAFile: p.caFile}},
		{name: "mutual TLS", mTLS: true, tls: worker.TLSConfig{CAFile: p.caFile, CertFile: p.certFile, KeyFile: p.keyFile}},
		{name: "server name", tls: worker.TLSConfig{CAFile: p.caFile, ServerName: "localhost"}},
		{name: "API key", tls: worker.TLSConfig{CAFile: p.caFile}, apiKey: "secret", wantAuth: []string{"Bearer secret"}},
		{name: "API key file", tls: worker.TLSConfig{CAFile: p.caFile}, keyFile: keyFile, wantAuth: []string{"Bearer key-from-file"}},
		{
			name: "API key with mutual TLS", mTLS: true, tls: worker.TLSConfig{CAFile: p.caFile, CertFile: p.certFile, KeyFile: p.keyFile},
			apiKey: "both", wantAuth: []string{"Bearer both"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			address, front := startFrontend(t, p, tt.mTLS)
			cfg := worker.TemporalConfig{Address: address, Namespace: "default", TLS: tt.tls, APIKey: tt.apiKey, APIKeyFile: tt.keyFile}
			opts, err := cfg.ClientOptions()
			require.NoError(t, err)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			c, err := client.DialContext(ctx, opts)
			require.NoError(t, err)
			c.Close()
			if tt.wantAuth == nil {
				for _, auth := range front.auth() {
					assert.Empty(t, auth)
				}
			} else {
				assert.Contains(t, front.auth(), tt.wantAuth[0])
			}
		})
	}
}

// TestClientOptionsTLSRefused checks with a TLS handshake that the tls.Config of a config is
// refused where it must be.
func TestClientOptionsTLSRefused(t *testing.T) {
	p := newPKI(t)
	tests := []struct {
		name string
		mTLS bool
		tls  worker.TLSConfig
	}{
		{"the server's CA is not trusted", false, worker.TLSConfig{CAFile: p.otherCAFile}},
		{"the server name does not match", false, worker.TLSConfig{CAFile: p.caFile, ServerName: "temporal.example"}},
		{"no client certificate for mutual TLS", true, worker.TLSConfig{CAFile: p.caFile}},
		{"a client certificate of another CA", true, worker.TLSConfig{CAFile: p.caFile, CertFile: p.otherCertFile, KeyFile: p.otherKeyFile}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			address, _ := startFrontend(t, p, tt.mTLS)
			opts, err := worker.TemporalConfig{Address: address, TLS: tt.tls}.ClientOptions()
			require.NoError(t, err)
			require.NotNil(t, opts.ConnectionOptions.TLS)
			cfg := opts.ConnectionOptions.TLS.Clone()
			if cfg.ServerName == "" {
				cfg.ServerName = "localhost" // what gRPC derives from the address
			}
			cfg.NextProtos = []string{"h2"}
			conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", address, cfg)
			if err == nil {
				// A refused client certificate shows on the first read (TLS 1.3).
				_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
				_, err = conn.Read(make([]byte, 1))
				_ = conn.Close()
			}
			require.Error(t, err)
		})
	}
}

// An API key without any tls setting turns TLS on, with the system's root CAs: the test server's
// certificate is then refused, rather than the key sent in plaintext.
func TestAPIKeyTurnsTLSOn(t *testing.T) {
	p := newPKI(t)
	address, front := startFrontend(t, p, false)
	opts, err := worker.TemporalConfig{Address: address, Namespace: "default", APIKey: "secret"}.ClientOptions()
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	c, err := client.DialContext(ctx, opts)
	if err == nil {
		c.Close()
	}
	require.Error(t, err)
	assert.Contains(t, err.Error(), "x509: certificate signed by unknown authority")
	assert.Empty(t, front.auth(), "the key was never sent")
}

func TestClientOptions(t *testing.T) {
	p := newPKI(t)
	notPEM := filepath.Join(p.dir, "not.pem")
	require.NoError(t, os.WriteFile(notPEM, []byte("hello"), 0o600))
	empty := filepath.Join(p.dir, "empty")
	require.NoError(t, os.WriteFile(empty, []byte("\n"), 0o600))
	tests := []struct {
		name      string
		cfg       worker.TemporalConfig
		wantTLS   bool
		wantCreds bool
		wantErr   string
	}{
		{name: "plaintext by default", cfg: worker.TemporalConfig{}},
		{name: "enabled: system roots", cfg: worker.TemporalConfig{TLS: worker.TLSConfig{Enabled: true}}, wantTLS: true},
		{name: "a CA file turns TLS on", cfg: worker.TemporalConfig{TLS: worker.TLSConfig{CAFile: p.caFile}}, wantTLS: true},
		// The SDK turns TLS on itself when it applies the API key credentials.
		{name: "an API key", cfg: worker.TemporalConfig{APIKey: "k"}, wantCreds: true},
		{name: "missing CA file", cfg: worker.TemporalConfig{TLS: worker.TLSConfig{CAFile: filepath.Join(p.dir, "nope.pem")}}, wantErr: "temporal.tls.ca_file: open "},
		{name: "CA file without PEM", cfg: worker.TemporalConfig{TLS: worker.TLSConfig{CAFile: notPEM}}, wantErr: "not.pem: no PEM certificate found"},
		{name: "missing key file", cfg: worker.TemporalConfig{TLS: worker.TLSConfig{CertFile: p.certFile, KeyFile: filepath.Join(p.dir, "nope.key")}}, wantErr: "temporal.tls: load the client certificate"},
		{name: "certificate without key", cfg: worker.TemporalConfig{TLS: worker.TLSConfig{CertFile: p.certFile}}, wantErr: "cert_file and key_file must be set together"},
		{name: "missing API key file", cfg: worker.TemporalConfig{APIKeyFile: filepath.Join(p.dir, "nope")}, wantErr: "temporal.api_key_file: open "},
		{name: "empty API key file", cfg: worker.TemporalConfig{APIKeyFile: empty}, wantErr: "temporal.api_key_file " + empty + " is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Address, tt.cfg.Namespace, tt.cfg.Identity = "temporal:7233", "ns", "me"
			opts, err := tt.cfg.ClientOptions()
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, "temporal:7233", opts.HostPort)
			assert.Equal(t, "ns", opts.Namespace)
			assert.Equal(t, "me", opts.Identity)
			assert.Equal(t, tt.wantTLS, opts.ConnectionOptions.TLS != nil)
			assert.Equal(t, tt.wantCreds, opts.Credentials != nil)
		})
	}
}
