package grafana

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/dbsec/dbsec/pkg/api"
	"github.com/dbsec/dbsec/pkg/store"
)

// CheckHealth is "Save & test": every exporter must answer /api/v1/status
// with the configured credentials, and its store must answer a query. The
// message names each exporter that failed and what to do about it.
func (d *Datasource) CheckHealth(ctx context.Context, _ *backend.CheckHealthRequest) (*backend.CheckHealthResult, error) {
	type answer struct {
		st     api.Status
		stored int
	}
	rs := fanOut(ctx, d.exporters, func(ctx context.Context, c *api.Client) (answer, error) {
		st, err := c.Status(ctx)
		if err != nil {
			return answer{}, err
		}
		// The store must answer a query, not only count.
		page, err := c.Events(ctx, store.EventQuery{Filter: store.Filter{From: time.Unix(0, 0), To: time.Now().Add(time.Hour)}, Limit: 1})
		if err != nil {
			return answer{st: st}, fmt.Errorf("store: %w", err)
		}
		return answer{st: st, stored: len(page.Events)}, nil
	})
	var ok, bad []string
	for _, r := range rs {
		if r.err != nil {
			bad = append(bad, fmt.Sprintf("%s: %s", r.ex.url, describeErr(r.err, d.basicAuth)))
			continue
		}
		st := r.val.st.Store
		msg := fmt.Sprintf("%s: dbsec %s, %d events stored", r.ex.url, r.val.st.Version, st.Events)
		if !st.Newest.IsZero() {
			msg += ", newest " + st.Newest.UTC().Format(time.RFC3339)
		}
		if st.LastError != "" {
			msg += "; the store reports a write error: " + st.LastError
		}
		ok = append(ok, msg)
	}
	if len(bad) > 0 {
		msg := fmt.Sprintf("%d of %d exporters failed. %s", len(bad), len(rs), strings.Join(bad, ". "))
		if len(ok) > 0 {
			msg += ". Working: " + strings.Join(ok, "; ")
		}
		return &backend.CheckHealthResult{Status: backend.HealthStatusError, Message: msg}, nil
	}
	msg := "Data source is working. " + strings.Join(ok, "; ")
	return &backend.CheckHealthResult{Status: backend.HealthStatusOk, Message: msg}, nil
}

// describeErr says in words a user can act on why a request to an
// exporter failed.
func describeErr(err error, basicAuth bool) string {
	var ae *api.Error
	if errors.As(err, &ae) {
		switch ae.Status {
		case 401:
			if basicAuth {
				return "401 Unauthorized: the exporter refused the user name or password; check Basic auth details against its web config (basic_auth_users)"
			}
			return "401 Unauthorized: the exporter requires a password; enable Basic auth and enter the user and password from its web config"
		case 403:
			return "403 Forbidden: the exporter refused access"
		case 404:
			return "404 Not Found: no dbsec API at this URL; check the URL (scheme, host, port, no /api/v1 suffix) and that the exporter has a [store] configured"
		case 400:
			if strings.Contains(ae.Message, "HTTPS server") {
				return "the exporter speaks HTTPS at this address; use an https:// URL"
			}
		case 503:
			return "503: the exporter's store did not answer in time (" + ae.Message + ")"
		}
		return fmt.Sprintf("HTTP %d: %s", ae.Status, ae.Message)
	}
	var uerr *url.Error
	if errors.As(err, &uerr) && uerr.Timeout() {
		return "timed out: the exporter did not answer within the data source's timeout; check the address and firewalls, or raise the timeout"
	}
	var certInvalid x509.CertificateInvalidError
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var verr *tls.CertificateVerificationError
	switch {
	case errors.As(err, &hostErr):
		return fmt.Sprintf("TLS verification failed: the certificate is not valid for this host name (%v); use the name in the certificate or set TLS Server Name", hostErr)
	case errors.As(err, &unknownCA):
		return "TLS verification failed: the certificate is signed by an unknown authority; add the exporter's CA certificate (With CA Cert) or, for testing only, Skip TLS verify"
	case errors.As(err, &certInvalid):
		return fmt.Sprintf("TLS verification failed: %v", certInvalid)
	case errors.As(err, &verr):
		return fmt.Sprintf("TLS verification failed: %v", verr.Err)
	}
	var recErr tls.RecordHeaderError
	if errors.As(err, &recErr) {
		return "TLS handshake failed: the exporter does not speak HTTPS at this address; use http:// or enable TLS in its web config"
	}
	msg := err.Error()
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused: nothing listens at this address; is dbsec_exporter running, and is the port right?"
	case errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH):
		return "host unreachable: check the address and the network route to the exporter"
	case errors.Is(err, context.DeadlineExceeded):
		return "timed out: the exporter did not answer in time"
	case errors.Is(err, context.Canceled):
		return "the request was cancelled"
	case strings.Contains(msg, "server gave HTTP response to HTTPS client"):
		return "the exporter speaks plain HTTP at this address; use an http:// URL or enable TLS in its web config"
	case strings.Contains(msg, "certificate required") || strings.Contains(msg, "bad certificate"):
		return "TLS handshake failed: the exporter requires a client certificate; enable TLS Client Auth and add the client certificate and key"
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return fmt.Sprintf("host name %q not found: check the URL", dnsErr.Name)
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		return "network error: " + opErr.Error()
	}
	return msg
}
