// Package drift owns the configuration drift checker: readers for the
// configuration files of TiDB, TDengine (taos.cfg, taosAdapter, taosKeeper)
// and Redash (env files, docker-compose), rule packs as TOML data with
// per-version product defaults, evaluation into finding.Finding values,
// per-environment overrides (tailoring, waivers, severity overrides),
// change detection against an approved snapshot whose secrets are stored
// only as keyed HMACs, output writers (text, JSON, SARIF 2.1.0, JUnit XML),
// and a Prometheus collector. The check-config command line lives in the
// exporter (exporter/checkconfig.go); this package reads no flags.
//
// Secret values never leave this package unredacted: every value that is
// written to an output, a snapshot or a metric passes through Redactor.
//
// The package reads no flags or environment variables itself.
package drift
