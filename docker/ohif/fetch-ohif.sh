#!/usr/bin/env bash
# Fetch the prebuilt OHIF viewer (@ohif/app dist) from the npm registry into a cache folder.
#
#   docker/ohif/fetch-ohif.sh [CACHE_DIR]     (default: .cache/ohif in the repository root)
#
# Leaves CACHE_DIR/dist (index.html and the bundles). Idempotent: does nothing when
# CACHE_DIR/dist/index.html of this version is already there. Installs Debian's npm
# only when npm is missing and the script runs as root.
set -euo pipefail

OHIF_VERSION="${OHIF_VERSION:-3.13.2}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
cache="${1:-${OHIF_CACHE_DIR:-$root/.cache/ohif}}"
stamp="$cache/dist/.ohif-version"

if [ -f "$cache/dist/index.html" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$OHIF_VERSION" ]; then
    exit 0
fi

if ! command -v npm >/dev/null; then
    if [ "$(id -u)" -eq 0 ]; then
        echo "fetch-ohif: npm missing, installing Debian's npm" >&2
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null
    else
        echo "fetch-ohif: npm is needed (apt-get install npm)" >&2
        exit 1
    fi
fi

mkdir -p "$cache"
work="$(mktemp -d "$cache/.fetch.XXXXXX")"
trap 'rm -rf "$work"' EXIT
echo "fetch-ohif: npm pack @ohif/app@$OHIF_VERSION" >&2
(cd "$work" && npm pack --silent "@ohif/app@$OHIF_VERSION" >/dev/null)
tar -xzf "$work"/ohif-app-"$OHIF_VERSION".tgz -C "$work" package/dist
test -f "$work/package/dist/index.html"
echo "$OHIF_VERSION" >"$work/package/dist/.ohif-version"
rm -rf "$cache/dist"
mv "$work/package/dist" "$cache/dist"
echo "fetch-ohif: $cache/dist" >&2
