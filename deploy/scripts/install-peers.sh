#!/usr/bin/env bash
# Installs the Debian packages that the appliance's tests talk to (real peers, not mocks), when they are missing.
#   install-peers.sh test     peers for the test suite
set -euo pipefail

# command → Debian package
declare -A peers=(
  [storescu]=dcmtk
  [echoscu]=dcmtk
  [dcmdump]=dcmtk
)

missing=()
for cmd in "${!peers[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${peers[$cmd]}")
done
[ -f /usr/share/libdcmtk17/dicom.dic ] || ls /usr/share/libdcmtk*/dicom.dic >/dev/null 2>&1 || missing+=(dcmtk)

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
mapfile -t packages < <(printf '%s\n' "${missing[@]}" | sort -u)
echo "Installing test peers: ${packages[*]}"

as_root=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    as_root=(sudo -n)
  else
    echo "error: missing Debian packages ${packages[*]} and not root (no sudo); install them with: apt-get install ${packages[*]}" >&2
    exit 1
  fi
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "error: missing ${packages[*]} and apt-get is not available; install them with your package manager" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
if ! "${as_root[@]}" apt-get update -qq || ! "${as_root[@]}" apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null; then
  echo "error: could not install ${packages[*]} with apt-get; install them by hand and run the tests again" >&2
  exit 1
fi
