# Shared helpers for the setup scripts: one clear line on failure, naming what is missing and how to provide it.
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cache="${PDM_CACHE_DIR:-$root/.cache}"
say() { printf '[setup] %s\n' "$*" >&2; }
die() { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }
need() { # need <command> <how to provide it>
  command -v "$1" >/dev/null 2>&1 || die "$1 not found: $2"
}
