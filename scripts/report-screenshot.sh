#!/usr/bin/env bash
# Looks at a report as a person would: a headless-Chromium screenshot of report.html.
#
#   scripts/report-screenshot.sh models/fleet/report.html [out.png] [height px, default 2400]
#
# Needs Debian's chromium (apt-get install chromium); it is tooling, not part of preempt.
set -euo pipefail
[ $# -ge 1 ] || { sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
report="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
out="${2:-${1%.html}.png}"
height="${3:-2400}"
command -v chromium >/dev/null || { echo "report-screenshot: no chromium (apt-get install chromium)" >&2; exit 1; }
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size="1400,$height" \
  --screenshot="$out" "file://$report" >/dev/null 2>&1
echo "$out"
