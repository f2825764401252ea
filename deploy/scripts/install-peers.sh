#!/usr/bin/env bash
# Installs the Debian packages that the appliance's tests talk to (real peers, not mocks), when they are missing.
# Each area lists its peers in peers.d/<area>.list, one per line: a check and the Debian package that satisfies it.
#   cmd:NAME      a command on PATH
#   file:PATH     an installed file (a shared library, a data file)
#   py:MODULE     a module importable by Debian's /usr/bin/python3
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

satisfied() {
  local check="$1"
  case "$check" in
    cmd:*) command -v "${check#cmd:}" >/dev/null 2>&1 ;;
    file:*) [ -e "${check#file:}" ] ;;
    py:*) /usr/bin/python3 -c "import ${check#py:}" >/dev/null 2>&1 ;;
    *) echo "error: unknown check '$check' in $here/peers.d" >&2; return 1 ;;
  esac
}

missing=()
for list in "$here"/peers.d/*.list; do
  while read -r check package _; do
    [[ -z "$check" || "$check" == \#* ]] && continue
    satisfied "$check" || missing+=("$package")
  done < "$list"
done

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
