#!/usr/bin/env bash
# The failover drill (M11): a write load through the app, the primary stopped hard, the
# synchronous standby promoted; exits non-zero when an acknowledged write is lost or the app does
# not recover by itself. Options and details: scripts/failover-drill.ts and docs/operations.md
# ("Replication and failover").
#
#   scripts/failover-drill.sh [--keep] [--workers N] [--detect-ms MS] [--recovery-seconds S]
#                             [--writes-before-kill N] [--no-remote] [--dir DIR] [--json FILE]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NODE="$ROOT/node_modules/.bin/node"   # the pinned Node 24, not the system's
[ -x "$NODE" ] || NODE="$(command -v node)"
exec "$NODE" "$ROOT/node_modules/tsx/dist/cli.mjs" "$ROOT/scripts/failover-drill.ts" "$@"
