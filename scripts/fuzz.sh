#!/usr/bin/env bash
# Runs every fuzz target of the project for a short time each (default 10s).
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime="${1:-10s}"
found=0
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
    found=$((found + 1))
    echo "-- $pkg $target ($fuzztime)"
    go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg"
  done
done
echo "fuzz: ran $found targets"
