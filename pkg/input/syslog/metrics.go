package syslog

import "github.com/prometheus/client_golang/prometheus"

var (
	descMessages = prometheus.NewDesc("dbsec_syslog_messages_total",
		"Syslog messages received and delivered, by protocol (rfc5424, rfc3164).", []string{"listener", "transport", "protocol"}, nil)
	descLines = prometheus.NewDesc("dbsec_syslog_lines_total",
		"Lines of syslog message bodies delivered to the pipeline.", []string{"listener", "transport"}, nil)
	descBytes = prometheus.NewDesc("dbsec_syslog_bytes_total",
		"Bytes of syslog messages delivered, framing excluded.", []string{"listener", "transport"}, nil)
	descErrors = prometheus.NewDesc("dbsec_syslog_errors_total",
		"Syslog messages or connections dropped, by reason.", []string{"listener", "transport", "reason"}, nil)
	descConns = prometheus.NewDesc("dbsec_syslog_connections",
		"Open TCP/TLS syslog connections.", []string{"listener", "transport"}, nil)
	descConnsTotal = prometheus.NewDesc("dbsec_syslog_connections_total",
		"TCP/TLS syslog connections accepted.", []string{"listener", "transport"}, nil)
)

// Collector returns the self-metrics of the listener. Its series carry the
// labels listener (Config.Name) and transport (udp, tcp, tls), so the
// collectors of several listeners can be registered together.
func (s *Server) Collector() prometheus.Collector { return collector{s} }

type collector struct{ s *Server }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descMessages, descLines, descBytes, descErrors, descConns, descConnsTotal} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	s := c.s
	l, t := s.cfg.Name, s.transport
	ch <- prometheus.MustNewConstMetric(descMessages, prometheus.CounterValue, float64(s.m.rfc5424Msgs.Load()), l, t, "rfc5424")
	ch <- prometheus.MustNewConstMetric(descMessages, prometheus.CounterValue, float64(s.m.rfc3164Msgs.Load()), l, t, "rfc3164")
	ch <- prometheus.MustNewConstMetric(descLines, prometheus.CounterValue, float64(s.m.lines.Load()), l, t)
	ch <- prometheus.MustNewConstMetric(descBytes, prometheus.CounterValue, float64(s.m.bytes.Load()), l, t)
	for i, r := range reasons {
		ch <- prometheus.MustNewConstMetric(descErrors, prometheus.CounterValue, float64(s.m.errors[i].Load()), l, t, r)
	}
	if t != "udp" {
		ch <- prometheus.MustNewConstMetric(descConns, prometheus.GaugeValue, float64(s.m.connsOpen.Load()), l, t)
		ch <- prometheus.MustNewConstMetric(descConnsTotal, prometheus.CounterValue, float64(s.m.connsTotal.Load()), l, t)
	}
}
