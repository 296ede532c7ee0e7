#!/usr/bin/env bash
# Fetches (downloads, does not install) the Debian 12 .deb files that scout's
# build and test suite need into .gpu-deps/ at the repo root (git-ignored), so
# they can travel to an offline GPU machine whose image has a compiler, CMake,
# ninja and CUDA but no -dev packages. There tools/gpu-check.sh unpacks them
# with `dpkg -x` (or ar + tar) into a private prefix and points CMake at it.
#
# Run on Debian 12 (bookworm) with apt able to reach its mirror:
#   bash tools/gpu-deps.sh
# Idempotent: a .deb already present at the candidate version is kept; an
# older version of the same package is replaced. Prints what it fetched and
# the folder's size (a few MiB).
#
# Not carried:
# - OpenMP: gcc's own omp.h and libgomp come with the image's gcc (libgcc-N-dev,
#   libgomp1); tools/gpu-check.sh checks that `g++ -fopenmp` works there and
#   stops with a readable message if not.
# - googletest (the sources under /usr/src): libgtest-dev/libgmock-dev ship the
#   built static libraries and the CMake config, which is all the build uses.
# - catch2 (a dependency of libspdlog-dev for spdlog's own tests only).
# The binary libraries were built for Debian 12 (glibc 2.36, gcc 12); they run
# on newer glibc/libstdc++ (Ubuntu 24.04: glibc 2.39, gcc 13) as well.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dest="$root/.gpu-deps"
max_mib=30

packages=(
  libfmt-dev libfmt9                    # fmt 9.1 (CMake config, shared lib)
  libspdlog-dev libspdlog1.10           # spdlog 1.10 (built against external fmt)
  libcli11-dev                          # CLI11 (headers, CMake config)
  nlohmann-json3-dev                    # nlohmann_json 3.11 (headers, CMake config)
  libsentencepiece-dev libsentencepiece0   # sentencepiece.pc + shared libs
  libpcre2-dev libpcre2-8-0             # libpcre2-8.pc, pcre2.h, libpcre2-8.so
  libxxhash-dev                         # xxhash.h (used header-only)
  libstb-dev                            # stb/stb_image.h (compiled from the header)
  libgtest-dev libgmock-dev             # GTest/GMock static libs + CMake config
  pkgconf-bin libpkgconf3               # pkgconf binary (CMake's pkg_check_modules)
)

if ! grep -qs 'VERSION_CODENAME=bookworm' /etc/os-release; then
  echo "gpu-deps: warning: this is not Debian 12 (bookworm); the GPU build expects bookworm's packages" >&2
fi
command -v apt-get >/dev/null || { echo "gpu-deps: apt-get not found (run this on Debian 12)" >&2; exit 1; }

apt_opts=(-q)
if [ "$(id -u)" -eq 0 ]; then apt_opts+=(-o APT::Sandbox::User=root); fi

if ! apt-cache show "${packages[0]}" >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ]; then
    echo "gpu-deps: package lists missing; running apt-get update" >&2
    apt-get update -qq
  else
    echo "gpu-deps: apt does not know ${packages[0]}; run 'apt-get update' as root first" >&2
    exit 1
  fi
fi

mkdir -p "$dest"
cd "$dest"

# 'URI' FILENAME SIZE HASH, one line per package, at apt's candidate version.
# (From an empty folder: apt leaves out files already in the current one.)
probe=$(mktemp -d)
mapfile -t uris < <(cd "$probe" && apt-get "${apt_opts[@]}" download --print-uris "${packages[@]}")
rmdir "$probe"
if [ "${#uris[@]}" -ne "${#packages[@]}" ]; then
  echo "gpu-deps: apt-get download --print-uris gave ${#uris[@]} lines for ${#packages[@]} packages" >&2
  exit 1
fi

# apt lists the packages in its own order: key them by name (the file name's
# part before the first underscore).
# The file is kept under apt's name less the version's epoch ("1%3a"), so
# every name is letters, digits and ._+- alone.
declare -A apt_file want_file want_size
for line in "${uris[@]}"; do
  read -r _uri file size _hash <<<"$line"
  apt_file[${file%%_*}]=$file
  want_file[${file%%_*}]=$(sed -E 's/_[0-9]+%3a/_/' <<<"$file")
  want_size[${file%%_*}]=$size
done

fetched=() kept=()
for p in "${packages[@]}"; do
  file=${want_file[$p]:-}
  size=${want_size[$p]:-}
  [ -n "$file" ] || { echo "gpu-deps: apt gave no file for $p" >&2; exit 1; }
  if [ -f "$file" ] && [ "$(stat -c %s "$file")" = "$size" ]; then
    kept+=("$file")
    continue
  fi
  # Another version of the same package: replace it.
  for old in "${p}"_*.deb; do
    if [ -e "$old" ] && [ "$old" != "$file" ]; then rm -f -- "$old"; fi
  done
  rm -f -- "$file" "${apt_file[$p]}"
  apt-get "${apt_opts[@]}" download "$p" >/dev/null
  [ -f "${apt_file[$p]}" ] || { echo "gpu-deps: apt-get download $p did not write ${apt_file[$p]}" >&2; exit 1; }
  [ "${apt_file[$p]}" = "$file" ] || mv -- "${apt_file[$p]}" "$file"
  fetched+=("$file")
done

# Anything else here (a package dropped from the list) goes.
for f in *.deb; do
  [ -e "$f" ] || continue
  if [ "${want_file[${f%%_*}]:-}" != "$f" ]; then
    echo "gpu-deps: removing $f (not in the list)"
    rm -f -- "$f"
  fi
done

# What is here, for the summary on the other side.
{
  echo "# Debian 12 packages for tools/gpu-check.sh, fetched by tools/gpu-deps.sh on $(date -u +%Y-%m-%d)"
  # shellcheck disable=SC2016
  for f in *.deb; do dpkg-deb -W --showformat='${Package} ${Version} ${Architecture} '"$f"'\n' "$f"; done
} >MANIFEST

for f in "${fetched[@]}"; do echo "gpu-deps: fetched $f"; done
[ "${#kept[@]}" -eq 0 ] || echo "gpu-deps: ${#kept[@]} already present: ${kept[*]}"
kib=$(du -sk . | cut -f1)
echo "gpu-deps: $dest: ${#packages[@]} packages, $((kib / 1024)).$(((kib % 1024) * 10 / 1024)) MiB"
if [ "$kib" -gt $((max_mib * 1024)) ]; then
  echo "gpu-deps: more than $max_mib MiB: too much to carry" >&2
  exit 1
fi
