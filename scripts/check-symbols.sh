#!/usr/bin/env bash
# Checks that libpilot.so exports exactly the functions include/pilot.h
# declares (the build already checks their signatures).
# Usage: scripts/check-symbols.sh [path/to/libpilot.so]
set -euo pipefail
lib=${1:-build/libpilot.so}
hdr=$(dirname "$0")/../include/pilot.h
exported=$(nm -D --defined-only "$lib" | awk '$2 == "T" && $3 ~ /^pilot_/ {print $3}' | sort -u)
declared=$(grep -oE '\bpilot_[a-z0-9_]+\(' "$hdr" | tr -d '(' | sort -u)
if [ "$exported" != "$declared" ]; then
  echo "libpilot.so and include/pilot.h disagree:" >&2
  diff <(echo "$declared") <(echo "$exported") | sed -e 's/^</  declared, not exported:/' -e 's/^>/  exported, not declared:/' | grep -v '^[0-9]' >&2
  exit 1
fi
echo "check-symbols: $(echo "$exported" | wc -l) functions, header and library agree"
