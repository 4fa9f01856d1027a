#!/usr/bin/env bash
# The project's bench command: every Go benchmark, with allocations.
# Pass a package pattern or -bench regexp through: scripts/bench.sh ./oneapi/... 'BenchmarkServer'
set -euo pipefail
cd "$(dirname "$0")/.."
pkgs="${1:-./...}"
pattern="${2:-.}"
go test -run '^$' -bench "$pattern" -benchmem -count=1 "$pkgs"
