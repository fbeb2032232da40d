package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/backend/grpcplugin"
	"github.com/grafana/grafana-plugin-sdk-go/genproto/pluginv2"
	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"

	"github.com/dbsec/dbsec/pkg/grafana"
)

// harness is a plugin host as Grafana is one: it starts the built gpx_
// binary through hashicorp/go-plugin with Grafana's handshake (protocol 2,
// magic cookie grafana_plugin_type=datasource, gRPC only) and calls the
// plugin's Data, Diagnostics and Resource services over that connection.
type harness struct {
	client *goplugin.Client
	data   grpcplugin.DataClient
	diag   grpcplugin.DiagnosticsClient
	res    grpcplugin.ResourceClient
}

func startPlugin(binary, home string, logOut io.Writer) (*harness, error) {
	cmd := exec.Command(binary)
	// Grafana passes no host environment to a plugin; neither do we.
	cmd.Env = []string{"HOME=" + home, "GF_PLUGIN_ID=" + grafana.PluginID}
	client := goplugin.NewClient(&goplugin.ClientConfig{
		Cmd: cmd,
		HandshakeConfig: goplugin.HandshakeConfig{
			ProtocolVersion:  grpcplugin.ProtocolVersion,
			MagicCookieKey:   grpcplugin.MagicCookieKey,
			MagicCookieValue: grpcplugin.MagicCookieValue,
		},
		VersionedPlugins: map[int]goplugin.PluginSet{
			grpcplugin.ProtocolVersion: {
				"data":        &grpcplugin.DataGRPCPlugin{},
				"diagnostics": &grpcplugin.DiagnosticsGRPCPlugin{},
				"resource":    &grpcplugin.ResourceGRPCPlugin{},
			},
		},
		AllowedProtocols: []goplugin.Protocol{goplugin.ProtocolGRPC},
		SkipHostEnv:      true,
		StartTimeout:     20 * time.Second,
		Logger:           hclog.New(&hclog.LoggerOptions{Name: "plugin", Output: logOut, Level: hclog.Warn}),
	})
	rpc, err := client.Client()
	if err != nil {
		client.Kill()
		return nil, fmt.Errorf("handshake: %w", err)
	}
	h := &harness{client: client}
	for name, dst := range map[string]any{"data": &h.data, "diagnostics": &h.diag, "resource": &h.res} {
		raw, err := rpc.Dispense(name)
		if err != nil {
			client.Kill()
			return nil, fmt.Errorf("dispense %s: %w", name, err)
		}
		var ok bool
		switch d := dst.(type) {
		case *grpcplugin.DataClient:
			*d, ok = raw.(grpcplugin.DataClient)
		case *grpcplugin.DiagnosticsClient:
			*d, ok = raw.(grpcplugin.DiagnosticsClient)
		case *grpcplugin.ResourceClient:
			*d, ok = raw.(grpcplugin.ResourceClient)
		}
		if !ok {
			client.Kill()
			return nil, fmt.Errorf("dispense %s: unexpected type %T", name, raw)
		}
	}
	return h, nil
}

func (h *harness) stop() { h.client.Kill() }

// dsConfig is a data source's settings as Grafana stores them.
type dsConfig struct {
	ID        int64
	UID       string
	URL       string
	JSONData  map[string]any
	Secure    map[string]string
	BasicUser string // basic auth when set
}

// settingsTime is the data sources' "updated" time; the SDK keeps one
// instance per data source id until it changes.
var settingsTime = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

func (c dsConfig) pluginContext() backend.PluginContext {
	jd, _ := json.Marshal(c.JSONData)
	if c.JSONData == nil {
		jd = []byte("{}")
	}
	return backend.PluginContext{
		OrgID:    1,
		PluginID: grafana.PluginID,
		DataSourceInstanceSettings: &backend.DataSourceInstanceSettings{
			ID: c.ID, UID: c.UID, Name: "dbsec", Type: grafana.PluginID, URL: c.URL,
			BasicAuthEnabled: c.BasicUser != "", BasicAuthUser: c.BasicUser,
			JSONData: jd, DecryptedSecureJSONData: c.Secure, Updated: settingsTime,
		},
	}
}

func callCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 30*time.Second)
}

// query sends one query and returns its response.
func (h *harness) query(c dsConfig, q any, from, to time.Time, headers map[string]string) (backend.DataResponse, error) {
	raw, err := json.Marshal(q)
	if err != nil {
		return backend.DataResponse{}, err
	}
	req := &backend.QueryDataRequest{
		PluginContext: c.pluginContext(),
		Headers:       headers,
		Queries: []backend.DataQuery{{
			RefID: "A", JSON: raw, TimeRange: backend.TimeRange{From: from, To: to},
			Interval: 30 * time.Second, MaxDataPoints: 1000,
		}},
	}
	ctx, cancel := callCtx()
	defer cancel()
	resp, err := h.data.QueryData(ctx, backend.ToProto().QueryDataRequest(req))
	if err != nil {
		return backend.DataResponse{}, err
	}
	out, err := backend.FromProto().QueryDataResponse(resp)
	if err != nil {
		return backend.DataResponse{}, err
	}
	dr, ok := out.Responses["A"]
	if !ok {
		return backend.DataResponse{}, fmt.Errorf("no response for refId A")
	}
	return dr, nil
}

func (h *harness) health(c dsConfig) (*backend.CheckHealthResult, error) {
	ctx, cancel := callCtx()
	defer cancel()
	resp, err := h.diag.CheckHealth(ctx, &pluginv2.CheckHealthRequest{PluginContext: backend.ToProto().PluginContext(c.pluginContext())})
	if err != nil {
		return nil, err
	}
	return backend.FromProto().CheckHealthResponse(resp), nil
}

// resource calls GET <path> and returns the status and the whole body.
func (h *harness) resource(c dsConfig, path string) (int, []byte, error) {
	req := &backend.CallResourceRequest{PluginContext: c.pluginContext(), Method: "GET", URL: path}
	if i := strings.IndexByte(path, '?'); i >= 0 {
		req.Path = path[:i]
	} else {
		req.Path = path
	}
	ctx, cancel := callCtx()
	defer cancel()
	stream, err := h.res.CallResource(ctx, backend.ToProto().CallResourceRequest(req))
	if err != nil {
		return 0, nil, err
	}
	status := 0
	var body []byte
	for {
		m, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, nil, err
		}
		if status == 0 {
			status = int(m.Code)
		}
		body = append(body, m.Body...)
	}
	return status, body, nil
}
