package victorialogs

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
)

// client talks to VictoriaLogs' HTTP API: /insert/jsonline on the insert
// URL, /select/logsql/query on the select URL.
type client struct {
	insertURL, selectURL string
	opts                 *Options
	http                 *http.Client
}

func newClient(o *Options) (*client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 8
	if o.TLSCAFile != "" || o.TLSCertFile != "" || o.TLSInsecureSkipVerify {
		tc := &tls.Config{InsecureSkipVerify: o.TLSInsecureSkipVerify} //nolint:gosec // an explicit option
		if o.TLSCAFile != "" {
			pem, err := os.ReadFile(o.TLSCAFile)
			if err != nil {
				return nil, fmt.Errorf("victorialogs: CA file: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("victorialogs: CA file %s holds no PEM certificate", o.TLSCAFile)
			}
			tc.RootCAs = pool
		}
		if o.TLSCertFile != "" || o.TLSKeyFile != "" {
			cert, err := tls.LoadX509KeyPair(o.TLSCertFile, o.TLSKeyFile)
			if err != nil {
				return nil, fmt.Errorf("victorialogs: client certificate: %w", err)
			}
			tc.Certificates = []tls.Certificate{cert}
		}
		tr.TLSClientConfig = tc
	}
	c := &client{opts: o, http: &http.Client{Transport: tr}}
	for _, x := range []struct {
		name string
		in   string
		out  *string
	}{{"insert_url", o.InsertURL, &c.insertURL}, {"select_url", o.SelectURL, &c.selectURL}} {
		u, err := url.Parse(x.in)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("victorialogs: %s %q is not an http(s) URL", x.name, x.in)
		}
		*x.out = strings.TrimRight(x.in, "/")
	}
	return c, nil
}

func (c *client) headers(r *http.Request) {
	o := c.opts
	switch {
	case o.BearerToken != "":
		r.Header.Set("Authorization", "Bearer "+o.BearerToken)
	case o.Username != "":
		r.SetBasicAuth(o.Username, o.Password)
	}
	if o.AccountID != 0 || o.ProjectID != 0 {
		r.Header.Set("AccountID", fmt.Sprint(o.AccountID))
		r.Header.Set("ProjectID", fmt.Sprint(o.ProjectID))
	}
}

// httpError is a non-2xx answer.
type httpError struct {
	status int
	body   string
}

func (e *httpError) Error() string {
	return fmt.Sprintf("victorialogs answered %d: %s", e.status, strings.TrimSpace(e.body))
}

func readError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 2048))
	return &httpError{status: resp.StatusCode, body: string(b)}
}

// insert posts JSON lines.
func (c *client) insert(ctx context.Context, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	u := c.insertURL + "/insert/jsonline?_stream_fields=" + streamFields + "&_time_field=_time&_msg_field=_msg"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return err
	}
	// Any other content type is accepted and silently ingests nothing.
	req.Header.Set("Content-Type", "application/stream+json")
	c.headers(req)
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return readError(resp)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return nil
}

// forceFlush asks VictoriaLogs to make what it has received searchable now
// (used by Flush; a server that refuses is not an error).
func (c *client) forceFlush(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.insertURL+"/internal/force_flush", nil)
	if err != nil {
		return
	}
	c.headers(req)
	if resp, err := c.http.Do(req); err == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
	}
}

// Response limits: a line (one record) and the whole answer.
const (
	maxLine = 4 << 20
)

// errTooLarge is returned when an answer passes the response limit.
var errTooLarge = errors.New("victorialogs: the answer exceeds the response limit; narrow the query")

// query runs a LogsQL query and calls fn for each row. Reading stops at
// maxBytes of answer (an error) or when fn returns false.
func (c *client) query(ctx context.Context, q string, fn func(row) bool) error {
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	// Never a partial answer: a front node started with
	// -search.allowPartialResponse answers from the storage nodes it
	// reaches, with status 200 and nothing that says the answer is
	// partial; allow_partial_response=0 makes it fail instead (502, naming
	// the node), as it does by default.
	form := url.Values{"query": {q}, "allow_partial_response": {"0"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.selectURL+"/select/logsql/query", strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	c.headers(req)
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("victorialogs query: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("victorialogs query %q: %w", clipQuery(q), readError(resp))
	}
	lr := &io.LimitedReader{R: resp.Body, N: c.opts.MaxResponseBytes + 1}
	sc := bufio.NewScanner(lr)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	for sc.Scan() {
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		r, err := parseRowFast(line)
		if err != nil {
			if cerr := ctx.Err(); cerr != nil {
				return fmt.Errorf("victorialogs query: reading the answer: %w (timeout %v)", cerr, c.opts.Timeout)
			}
			return fmt.Errorf("victorialogs query: the answer was cut short or is not JSON lines (%w): %.200q", err, line)
		}
		if !fn(r) {
			return nil
		}
	}
	if lr.N <= 0 {
		return errTooLarge
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("victorialogs query: %w", err)
	}
	return nil
}

func clipQuery(q string) string {
	if len(q) > 300 {
		return q[:300] + "…"
	}
	return q
}
