package worker

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"

	"go.temporal.io/sdk/client"
)

// ClientOptions returns the options of a Temporal client for c: address, namespace, identity,
// TLS (server verification with the system's or CAFile's CAs, mutual TLS with CertFile and
// KeyFile) and API key. It reads the files it names; errors name the file. Logger and
// MetricsHandler are left for the caller.
func (c TemporalConfig) ClientOptions() (client.Options, error) {
	opts := client.Options{
		HostPort:  c.Address,
		Namespace: c.Namespace,
		Identity:  c.Identity,
	}
	tlsConfig, err := c.TLS.load()
	if err != nil {
		return client.Options{}, err
	}
	opts.ConnectionOptions.TLS = tlsConfig
	key, err := c.apiKey()
	if err != nil {
		return client.Options{}, err
	}
	if key != "" {
		// The SDK turns TLS on (with the system's root CAs) when it is not configured.
		opts.Credentials = client.NewAPIKeyStaticCredentials(key)
	}
	return opts, nil
}

// load builds the tls.Config of t, or nil when TLS is off.
func (t TLSConfig) load() (*tls.Config, error) {
	if !t.On() {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("temporal.tls.ca_file: %w", err)
		}
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("temporal.tls.ca_file %s: no PEM certificate found", t.CAFile)
		}
		cfg.RootCAs = roots
	}
	if t.CertFile != "" || t.KeyFile != "" {
		if t.CertFile == "" || t.KeyFile == "" {
			return nil, errors.New("temporal.tls: cert_file and key_file must be set together")
		}
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("temporal.tls: load the client certificate %s and key %s: %w", t.CertFile, t.KeyFile, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// apiKey returns the API key of c, read from APIKeyFile if set, or "".
func (c TemporalConfig) apiKey() (string, error) {
	if c.APIKeyFile == "" {
		return strings.TrimSpace(c.APIKey), nil
	}
	data, err := os.ReadFile(c.APIKeyFile)
	if err != nil {
		return "", fmt.Errorf("temporal.api_key_file: %w", err)
	}
	key := strings.TrimSpace(string(data))
	if key == "" {
		return "", fmt.Errorf("temporal.api_key_file %s is empty", c.APIKeyFile)
	}
	return key, nil
}
