// Package configs holds the shipped configurations. The demo (demo.yaml)
// is compiled into the command: `erpconnector run` with no configuration
// file runs it, so this directory's demo.yaml is the one source of it.
package configs

import _ "embed"

// Demo is demo.yaml, the demo configuration: both reference servers and a
// SQLite ERP seeded with generated customers.
//
//go:embed demo.yaml
var Demo []byte
