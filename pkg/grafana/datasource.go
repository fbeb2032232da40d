// Package grafana is the backend of the dbsec Grafana data source
// (plugin id dbsec-audit-datasource): it answers Grafana's queries, health
// checks and resource calls by asking one or more dbsec exporters over
// their JSON API (pkg/api) and turning the answers into data frames that
// Grafana's panels show without transformations.
//
// The query model is pkg/grafana/model. The exporter's address is the data
// source's standard URL; basic auth, TLS and the timeout come from
// Grafana's standard HTTP settings; further exporters are listed in
// jsonData.urls and every query fans out to all of them.
//
// Only this package and plugin/main.go import the Grafana SDK; the exporter
// must not.
package grafana

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/httpclient"
	"github.com/grafana/grafana-plugin-sdk-go/backend/instancemgmt"

	"github.com/dbsec/dbsec/pkg/api"
	"github.com/dbsec/dbsec/pkg/grafana/model"
)

// PluginID is the plugin's id in plugin.json.
const PluginID = "dbsec-audit-datasource"

// MaxExporters bounds the fan-out of one data source.
const MaxExporters = 16

var (
	_ backend.QueryDataHandler      = (*Datasource)(nil)
	_ backend.CheckHealthHandler    = (*Datasource)(nil)
	_ backend.CallResourceHandler   = (*Datasource)(nil)
	_ instancemgmt.InstanceDisposer = (*Datasource)(nil)
)

// exporter is one dbsec exporter the data source queries.
type exporter struct {
	url string // as configured, for messages
	c   *api.Client
}

// Datasource is one configured dbsec data source.
type Datasource struct {
	uid, name string
	exporters []exporter
	basicAuth bool
	hc        *http.Client
	resources backend.CallResourceHandler
}

// NewDatasource is the instance factory that datasource.Manage calls for
// every data source (and again when its settings change).
func NewDatasource(ctx context.Context, s backend.DataSourceInstanceSettings) (instancemgmt.Instance, error) {
	urls, err := exporterURLs(s.URL, s.JSONData)
	if err != nil {
		return nil, err
	}
	opts, err := s.HTTPClientOptions(ctx)
	if err != nil {
		return nil, fmt.Errorf("http settings: %w", err)
	}
	hc, err := httpclient.New(opts)
	if err != nil {
		return nil, fmt.Errorf("http client: %w", err)
	}
	d := &Datasource{uid: s.UID, name: s.Name, hc: hc, basicAuth: opts.BasicAuth != nil}
	for _, u := range urls {
		d.exporters = append(d.exporters, exporter{url: u, c: api.NewClient(u, hc)})
	}
	d.resources = newResourceHandler(d)
	return d, nil
}

// exporterURLs validates the standard url and jsonData.urls: at least one
// absolute http(s) URL, duplicates dropped, at most MaxExporters.
func exporterURLs(first string, jsonData json.RawMessage) ([]string, error) {
	var st model.Settings
	if len(jsonData) > 0 {
		if err := json.Unmarshal(jsonData, &st); err != nil {
			return nil, fmt.Errorf("jsonData: %w", err)
		}
	}
	var out []string
	seen := map[string]bool{}
	for _, raw := range append([]string{first}, st.URLs...) {
		u := strings.TrimRight(strings.TrimSpace(raw), "/")
		if u == "" || seen[u] {
			continue
		}
		p, err := url.Parse(u)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			return nil, fmt.Errorf("exporter URL %q: want http://host:port or https://host:port", raw)
		}
		if p.User != nil {
			return nil, fmt.Errorf("exporter URL %q: put credentials in the basic auth settings, not in the URL", p.Redacted())
		}
		seen[u] = true
		out = append(out, u)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no exporter URL: set the data source's URL to a dbsec exporter, e.g. http://localhost:9947")
	}
	if len(out) > MaxExporters {
		return nil, fmt.Errorf("%d exporter URLs: at most %d are supported", len(out), MaxExporters)
	}
	return out, nil
}

// Dispose releases the instance's connections when its settings change.
func (d *Datasource) Dispose() { d.hc.CloseIdleConnections() }

// CallResource serves the resource routes (see resources.go).
func (d *Datasource) CallResource(ctx context.Context, req *backend.CallResourceRequest, sender backend.CallResourceResponseSender) error {
	return d.resources.CallResource(ctx, req, sender)
}

// result is one exporter's answer in a fan-out.
type result[T any] struct {
	ex  exporter
	val T
	err error
}

// fanOut calls fn on every exporter concurrently and returns the answers
// in the configured order.
func fanOut[T any](ctx context.Context, exs []exporter, fn func(context.Context, *api.Client) (T, error)) []result[T] {
	out := make([]result[T], len(exs))
	var wg sync.WaitGroup
	for i, ex := range exs {
		out[i].ex = ex
		wg.Go(func() {
			out[i].val, out[i].err = fn(ctx, ex.c)
		})
	}
	wg.Wait()
	return out
}
