#!/usr/bin/env bash
# P7: fail CI on a high or critical advisory in the production dependencies.
#
#   scripts/audit.sh                 runs `npm audit --omit=dev --audit-level=high`
#   AUDIT_REQUIRED=true scripts/audit.sh
#                                    also fails when the audit endpoint gives no report at all
#   AUDIT_REPORT=file.json scripts/audit.sh
#                                    judges a saved `npm audit --json` output instead (tests, air-gapped)
#
# Exit 0: no high/critical advisory (or no report and AUDIT_REQUIRED is not true: a warning is printed).
# Exit 1: high/critical advisories, or no report with AUDIT_REQUIRED=true.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

node_bin=node
[ -x node_modules/.bin/node ] && node_bin=node_modules/.bin/node

report="$(mktemp)"
trap 'rm -f "$report"' EXIT
if [ -n "${AUDIT_REPORT:-}" ]; then
  cp "$AUDIT_REPORT" "$report"
else
  npm audit --omit=dev --audit-level=high --json >"$report" 2>/dev/null
fi

# Prints "high critical total" from a report, or "none" when the output is not an audit report
# (the endpoint answered with an error such as HTTP 405, or could not be reached).
counts="$("$node_bin" -e '
  let r;
  try { r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); } catch { r = undefined; }
  const v = r && r.metadata && r.metadata.vulnerabilities;
  if (!v || typeof v.high !== "number" || typeof v.critical !== "number") { console.log("none"); process.exit(0); }
  console.log(`${v.high} ${v.critical} ${v.total ?? 0}`);
' "$report")"

if [ "$counts" = "none" ]; then
  reason="$("$node_bin" -e '
    try { const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); console.log(r.message || (r.error && r.error.summary) || "no report"); } catch { console.log("no report"); }
  ' "$report")"
  if [ "${AUDIT_REQUIRED:-false}" = "true" ]; then
    echo "audit: FAILED - the npm audit endpoint gave no report (${reason}) and AUDIT_REQUIRED=true." >&2
    exit 1
  fi
  echo "audit: WARNING - the npm audit endpoint gave no report (${reason}); production dependencies were NOT checked. Set AUDIT_REQUIRED=true to make this fail." >&2
  exit 0
fi

read -r high critical total <<<"$counts"
if [ "$high" -gt 0 ] || [ "$critical" -gt 0 ]; then
  echo "audit: FAILED - ${critical} critical and ${high} high advisories in production dependencies (${total} in all):" >&2
  "$node_bin" -e '
    const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    for (const [name, v] of Object.entries(r.vulnerabilities || {})) {
      if (v.severity === "high" || v.severity === "critical") console.error(`  ${v.severity.padEnd(8)} ${name} ${v.range || ""}`);
    }
  ' "$report"
  exit 1
fi
echo "audit: ok - no high or critical advisories in production dependencies (${total} lower)."
exit 0
