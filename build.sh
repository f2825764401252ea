#!/usr/bin/env bash
# Thin wrapper over build.cake.
#   ./build.sh              build
#   ./build.sh test         install missing test peers (Debian packages), then build and run every test
#   ./build.sh bench        benchmarks with ratios against dcmtk
#   ./build.sh publish      self-contained linux-x64 and linux-arm64 builds of the edge service
#   ./build.sh <Target> [cake arguments...]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

if ! command -v dotnet >/dev/null 2>&1; then
  echo "error: the .NET 10 SDK (dotnet) is not installed; install it first: https://learn.microsoft.com/dotnet/core/install/linux-debian" >&2
  exit 1
fi

target="${1:-Build}"
shift || true
case "${target,,}" in
  test) target=Test; deploy/scripts/install-peers.sh test ;;
  bench) target=Bench; deploy/scripts/install-peers.sh test ;;
  build) target=Build ;;
  publish) target=Publish ;;
  clean) target=Clean ;;
esac

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet tool restore >/dev/null
exec dotnet cake build.cake --target="$target" "$@"
