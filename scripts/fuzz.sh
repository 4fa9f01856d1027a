#!/usr/bin/env bash
# Runs every fuzz target of the project for a short time each (default 10s).
#
# Go 1.26's fuzz coordinator can report a bare "context deadline exceeded"
# exactly when -fuzztime ends, with no failing input (go.dev/issue/75804,
# fixed in Go 1.27). Such a run is repeated once; a run that writes a
# failing input, panics or fails any other way fails the script at once.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime="${1:-10s}"
found=0

run_target() { # pkg target
  go test -run '^$' -fuzz "^${2}\$" -fuzztime "$fuzztime" "$1" 2>&1
}

# deadline_flake LOG: the only failure is the coordinator's deadline race.
deadline_flake() {
  grep -q 'context deadline exceeded' <<<"$1" &&
    ! grep -qE 'Failing input written|panic:|_test\.go:[0-9]+:' <<<"$1"
}

for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for target in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
    found=$((found + 1))
    echo "-- $pkg $target ($fuzztime)"
    if out=$(run_target "$pkg" "$target"); then
      printf '%s\n' "$out"
      continue
    fi
    printf '%s\n' "$out"
    if deadline_flake "$out"; then
      echo "-- $target: the fuzz coordinator's deadline race (go.dev/issue/75804); running it again"
      run_target "$pkg" "$target"
      continue
    fi
    exit 1
  done
done
echo "fuzz: ran $found targets"
