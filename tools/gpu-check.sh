#!/usr/bin/env bash
# tools/gpu-check.sh: the CUDA backend's check on a fresh GPU machine, in one go.
#
#   tools/gpu-check.sh [OUT_DIR]
#
# Writes summary.md and one log per stage to $OUT if set, else to OUT_DIR, else
# to gpu-check-out/ (at most 8 files: summary.md, deps.log, build.log, gpu.log,
# tests.log, sanitizer.log, bench.log, bench.json). Runs from any directory;
# works on the repo it sits in.
#
# With the device tool: run(command="bash tools/gpu-check.sh", carry=[".gpu-deps"],
# timeout_s=600). The bench files go to build-gpu/bench-models (~15 GB of disk).
# Llama4OracleCuda (19 of the 72 tests) skips itself: ../shared does not travel.
#
# Made for a bare, offline GPU machine (the workplace's CUDA image: compiler,
# CMake, ninja, nvcc, compute-sanitizer; no -dev packages, no apt, no network)
# holding a copy of the repo plus .gpu-deps/ (made beforehand on Debian 12 by
# tools/gpu-deps.sh and carried along). Runs on a machine without a GPU too:
# it stops cleanly, exit 0, after the build.
#
# Stages, each timed and under `timeout`; the first broken one ends the run
# with one line `gpu-check: FAILED at stage NAME: WHY` and exit 1:
#   deps       system -dev packages if the compiler finds them all, else unpack
#              .gpu-deps/*.deb (dpkg-deb -x; without dpkg: ar + tar; without
#              those: python3) into $SCOUT_DEPS_PREFIX (/tmp/scout-deps, never
#              /), rewrite their .pc files to that prefix and use the carried
#              pkgconf through a wrapper. Checks that `c++ -fopenmp` works
#              (OpenMP is gcc's own libgomp/omp.h, not carried).
#   build      cmake -G Ninja Release, SCOUT_NATIVE=ON, CUDA archs 90a-real
#              when nvidia-smi reports compute capability 9.x (else the
#              project's default 80;90a-real), cmake --build -j$(nproc).
#   gpu        nvidia-smi -L and `scout bench --device cuda` on the embedded
#              model; no GPU: "no GPU: <reason>; stopping before the GPU
#              stages", in the summary too, exit 0.
#   tests      ctest -R 'Cuda|Device' (one gtest binary, gtest_discover_tests)
#   sanitizer  compute-sanitizer memcheck on scout_tests --gtest_filter=
#              '*Cuda*:-*Oracle*' (timeout 120 s). Memcheck errors or failing
#              tests fail the stage; a missing tool, a device it does not
#              support, or a timeout are noted and the run goes on.
#   bench      scout-layers files (true Scout layer shapes, llama.cpp's Q4_K_M
#              mix: q6_K output head, attn_v and ffn_down* of every 4th layer,
#              q4_K elsewhere) with 4 and 8 layers, scout
#              bench --device cuda -p 512 -n 128 -r 3 on each; pp512/tg128 t/s,
#              weight GB/s and % of the GPU's bandwidth, the time of one layer
#              (difference of the two files / 4) and full Scout (48 layers)
#              extrapolated. The 8-layer file is skipped when the time left
#              does not cover it (then one layer ~ the 4-layer time / 4, an
#              upper bound: it includes the small fixed part).
#
# Expected times on the GPU machine (16 cores, H100/H200), whole run < 9 min;
# the run stops itself at SCOUT_CHECK_BUDGET_S (default 530 s): a stage never
# gets more than what is left of it.
#   stage      limit   expected
#   deps        60 s     ~2 s    (measured: 1.5-4 s here, unpacking 15 debs, 3 MiB)
#   build      330 s   ~150 s    (see below; up to ~200 s on slower server cores)
#   gpu         60 s     ~5 s    (a CUDA context, tg4 on the embedded model)
#   tests      150 s    ~30 s    (72 tests, 33 of them on the GPU; a guess)
#   sanitizer  130 s    ~60 s    (memcheck slows kernels 10-100x; a guess)
#   bench      rest    ~130 s    (make 4 layers ~20 s, bench ~30 s; 8 layers ~40 s + ~40 s)
#   total      530 s   ~380 s
# Measured here, 2-core x86-64 VM whose cores were shared with another build
# at the time (load ~5), so wall times ran ~2x the CPU time:
#   clean build, CUDA archs 80;90a-real: 33m45s wall, 1582 CPU-s (user+sys);
#     again inside a bookworm chroot from the carried debs: 26m26s wall;
#     the .cu files are ~5% of it (90a-real alone saves ~2%); the slowest
#     single compile (src/cli/perplexity.cpp) took 93-113 s wall
#   make-model scout-layers q4_K mix, 4 layers (4.97 GB): 240 s wall, 185 CPU-s
#   make-model, 8 layers (9.93 GB): 623 s wall, 368 CPU-s
# Scaled to 16 cores as CPU-s / 12 (16 cores at ~75% parallel efficiency:
# ninja keeps 16 compiles busy until the tail of the build; the maker is
# OpenMP-parallel), plus what does not scale: the slowest compile and the
# links on the build's critical path (~60 s), writing the model file (~1 GB/s).
# Build 1582/12 = ~130 s -> ~150 s; maker 185/12 + 5 = ~20 s, 368/12 + 10 = ~40 s.
# The bench itself (weights uploaded once, then a warm-up and 3 runs each of
# pp512 and tg128, activations and KV cache on the GPU, decode steps replayed
# as CUDA graphs) has not run anywhere yet: ~20-40 s per file is a guess. The 8-layer file is
# made only if (time of the 4-layer make + bench) x 2 + 20 s is left.
#
# Environment (all optional):
#   OUT                   output folder (the device tool sets it)
#   SCOUT_CHECK_BUDGET_S  whole-run time budget in seconds (530)
#   SCOUT_BUILD_DIR       build folder (build-gpu)
#   SCOUT_DEPS            auto | system | carried (auto)
#   SCOUT_DEPS_PREFIX     where carried debs are unpacked (/tmp/scout-deps)
#   SCOUT_DEPS_EXTRACT    auto | dpkg | ar | python (auto: the first available)
#   SCOUT_BENCH_LAYERS    layer counts to bench ("4 8")
#   SCOUT_BUILD_LIMIT_S   the build stage's time limit (330; a 2-core rehearsal needs ~2400)
#   SCOUT_CHECK_STOP_AFTER  stop (exit 0) after this stage: deps, build, ...
set -euo pipefail
export LC_ALL=C   # '.' in $EPOCHREALTIME and in numbers

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

out=${OUT:-${1:-gpu-check-out}}
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d /tmp/scout-gpu-check.XXXXXX)
budget=${SCOUT_CHECK_BUDGET_S:-530}
start_epoch=$(date +%s)
deadline=$((start_epoch + budget))
export root out work budget deadline
export SCOUT_BUILD_DIR=${SCOUT_BUILD_DIR:-build-gpu}
export SCOUT_DEPS=${SCOUT_DEPS:-auto}
export SCOUT_DEPS_PREFIX=${SCOUT_DEPS_PREFIX:-/tmp/scout-deps}
export SCOUT_DEPS_EXTRACT=${SCOUT_DEPS_EXTRACT:-auto}
export SCOUT_BENCH_LAYERS=${SCOUT_BENCH_LAYERS:-4 8}
export multiarch=x86_64-linux-gnu   # the carried debs are amd64

# ---------------------------------------------------------------- helpers --

# A stage's one-line reason for failing (or its note when it passes).
note() { printf '%s\n' "$*" >"$work/$STAGE.note"; }
# A stage's section in summary.md (markdown, appended).
section() { printf '%s\n' "$@" >>"$work/$STAGE.md"; }
# Runs a command with the carried libraries visible (when they are used).
with_deps() {
  if [ -n "${SCOUT_DEPS_LIBDIR:-}" ]; then
    env LD_LIBRARY_PATH="$SCOUT_DEPS_LIBDIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$@"
  else
    "$@"
  fi
}
secs_left() { echo $((deadline - $(date +%s))); }
# Seconds, one decimal, since a $EPOCHREALTIME reading.
since() { local us=$((${EPOCHREALTIME/./} - ${1/./})); printf '%d.%d' $((us / 1000000)) $((us % 1000000 / 100000)); }
export -f note section with_deps secs_left since

# ----------------------------------------------------------------- stages --

stage_deps() {
  local cxx=${CXX:-$(command -v c++ || command -v g++ || echo c++)}
  command -v "$cxx" >/dev/null || { note "no C++ compiler ($cxx) on PATH"; return 1; }
  command -v cmake >/dev/null || { note "cmake not found on PATH"; return 1; }
  command -v ninja >/dev/null || { note "ninja not found on PATH"; return 1; }
  echo "compiler: $("$cxx" --version | head -1)"
  echo "cmake: $(cmake --version | head -1), ninja $(ninja --version)"

  # OpenMP comes with gcc (omp.h in libgcc-N-dev, libgomp1): not carried.
  printf '#include <omp.h>\nint main() { return omp_get_max_threads() > 0 ? 0 : 1; }\n' >"$work/omp.cpp"
  if ! "$cxx" -fopenmp "$work/omp.cpp" -o "$work/omp" >"$work/omp.log" 2>&1 || ! "$work/omp"; then
    cat "$work/omp.log"
    note "OpenMP: '$cxx -fopenmp' does not build or run a program (omp.h or libgomp missing from this compiler; not carried in .gpu-deps)"
    return 1
  fi
  echo "OpenMP: $cxx -fopenmp works"

  # Which -dev packages the system has: each header through the compiler.
  local missing=() h
  for h in fmt/core.h spdlog/spdlog.h CLI/CLI.hpp nlohmann/json.hpp sentencepiece_processor.h pcre2.h xxhash.h stb/stb_image.h \
    gtest/gtest.h gmock/gmock.h; do
    echo "#include <$h>" | "$cxx" -std=c++20 -DPCRE2_CODE_UNIT_WIDTH=8 -E -x c++ - >/dev/null 2>&1 || missing+=("$h")
  done
  local pc=""
  pc=$(command -v pkg-config || command -v pkgconf || true)
  if [ -z "$pc" ]; then missing+=("pkg-config"); fi
  local mode=$SCOUT_DEPS
  if [ "$mode" = auto ]; then
    if [ "${#missing[@]}" -eq 0 ]; then mode=system; else mode=carried; fi
  fi
  if [ "$mode" = system ]; then
    if [ "${#missing[@]}" -ne 0 ]; then note "SCOUT_DEPS=system but the system lacks: ${missing[*]}"; return 1; fi
    echo "deps: the system's packages (every header found, pkg-config at $pc)"
    section "- deps: the system's -dev packages"
    note "the system's packages"
    : >"$work/deps.env"
    return 0
  fi

  [ "${#missing[@]}" -eq 0 ] || echo "deps: the system lacks ${missing[*]}: using the carried .gpu-deps"
  local debs=("$root"/.gpu-deps/*.deb)
  if [ ! -e "${debs[0]}" ]; then
    note "the system lacks ${missing[*]:-nothing} and there is no .gpu-deps/*.deb (run tools/gpu-deps.sh on Debian 12 and carry .gpu-deps)"
    return 1
  fi
  local p=$SCOUT_DEPS_PREFIX
  case "$p" in /|/usr|/usr/*|"") note "SCOUT_DEPS_PREFIX=$p: refusing to unpack there"; return 1 ;; esac
  rm -rf "$p"
  mkdir -p "$p"

  local how=$SCOUT_DEPS_EXTRACT
  if [ "$how" = auto ]; then
    if command -v dpkg-deb >/dev/null; then how="dpkg"
    elif command -v ar >/dev/null && command -v tar >/dev/null && command -v xz >/dev/null; then how="ar"
    elif command -v python3 >/dev/null; then how="python"
    else note "cannot unpack .deb files: no dpkg-deb, no ar + tar + xz, no python3"; return 1
    fi
  fi
  echo "deps: unpacking ${#debs[@]} packages into $p with $how"
  local d member
  for d in "${debs[@]}"; do
    case "$how" in
      dpkg) dpkg-deb -x "$d" "$p" ;;
      ar)
        member=$(ar t "$d" | grep '^data\.tar') || { note "no data.tar in $d"; return 1; }
        case "$member" in
          *.xz) ar p "$d" "$member" | xz -dc | tar -x -C "$p" ;;
          *.zst) ar p "$d" "$member" | zstd -dc | tar -x -C "$p" ;;
          *.gz) ar p "$d" "$member" | tar -xz -C "$p" ;;
          data.tar) ar p "$d" "$member" | tar -x -C "$p" ;;
          *) note "$d: unknown member $member"; return 1 ;;
        esac ;;
      python)
        python3 - "$d" "$p" <<'PY'
import io, sys, tarfile
deb, dest = sys.argv[1], sys.argv[2]
data = open(deb, "rb").read()
assert data[:8] == b"!<arch>\n", deb + ": not an ar archive"
pos = 8
while pos + 60 <= len(data):
    name = data[pos:pos + 16].decode().strip().rstrip("/")
    size = int(data[pos + 48:pos + 58].decode().strip())
    body = data[pos + 60:pos + 60 + size]
    pos += 60 + size + (size & 1)
    if name.startswith("data.tar"):
        if name.endswith(".zst"):
            sys.exit(deb + ": data.tar.zst needs zstd, which python3 lacks")
        with tarfile.open(fileobj=io.BytesIO(body), mode="r:*") as t:
            # (Python 3.12+ wants a filter named; the packages' own links are trusted.)
            kw = {"filter": "fully_trusted"} if hasattr(tarfile, "fully_trusted_filter") else {}
            t.extractall(dest, **kw)
        break
else:
    sys.exit(deb + ": no data.tar member")
PY
        ;;
      *) note "SCOUT_DEPS_EXTRACT=$how: not one of dpkg, ar, python"; return 1 ;;
    esac
  done

  # The .pc files say /usr: point them at the prefix.
  local f
  while IFS= read -r f; do
    sed -E -i "s#(^|[=[:space:]]|-I|-L)/usr(/|\$|[[:space:]])#\\1$p/usr\\2#g" "$f"
  done < <(find "$p" -name '*.pc')
  local libdir=$p/usr/lib/$multiarch
  local pcpath=$libdir/pkgconfig:$p/usr/share/pkgconfig
  # pkg-config: the carried pkgconf (needs its libpkgconf.so.3 beside it),
  # through a wrapper that also fixes the search path, so CMake's re-runs
  # during the build see the same.
  mkdir -p "$p/bin"
  cat >"$p/bin/pkg-config" <<EOF
#!/bin/sh
# Written by tools/gpu-check.sh: the carried pkgconf, seeing the carried .pc files first.
PKG_CONFIG_PATH="$pcpath\${PKG_CONFIG_PATH:+:\$PKG_CONFIG_PATH}"
LD_LIBRARY_PATH="$libdir\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
export PKG_CONFIG_PATH LD_LIBRARY_PATH
exec "$p/usr/bin/pkgconf" "\$@"
EOF
  chmod +x "$p/bin/pkg-config"
  local pkgconfig=$p/bin/pkg-config
  if ! "$pkgconfig" --exists sentencepiece libpcre2-8 2>"$work/pc.err"; then
    cat "$work/pc.err"
    if [ -n "$pc" ] && PKG_CONFIG_PATH=$pcpath "$pc" --exists sentencepiece libpcre2-8; then
      echo "deps: the carried pkgconf does not run here; using $pc"
      pkgconfig=$pc
    else
      note "pkg-config cannot find sentencepiece / libpcre2-8 in $p (see deps.log)"
      return 1
    fi
  fi
  echo "deps: sentencepiece $("$pkgconfig" --modversion sentencepiece): $("$pkgconfig" --cflags --libs sentencepiece)"
  echo "deps: libpcre2-8 $("$pkgconfig" --modversion libpcre2-8): $("$pkgconfig" --cflags --libs libpcre2-8)"
  {
    echo "SCOUT_DEPS_MODE=carried"
    echo "SCOUT_DEPS_LIBDIR=$libdir"
    echo "SCOUT_CMAKE_DEPS_ARGS='-DCMAKE_PREFIX_PATH=$p/usr -DPKG_CONFIG_EXECUTABLE=$pkgconfig'"
    echo "PKG_CONFIG_PATH=$pcpath"
  } >"$work/deps.env"
  note "carried .gpu-deps, unpacked with $how"
  section "- deps: carried .gpu-deps unpacked into \`$p\` with $how (the system lacked: ${missing[*]:-nothing; SCOUT_DEPS=carried})"
  if [ -f "$root/.gpu-deps/MANIFEST" ]; then
    section "  - packages: $(grep -v '^#' "$root/.gpu-deps/MANIFEST" | awk '{printf "%s%s %s", (NR > 1 ? ", " : ""), $1, $2}')"
  fi
}

stage_build() {
  local b=$SCOUT_BUILD_DIR args=()
  # shellcheck disable=SC2206
  [ -z "${SCOUT_CMAKE_DEPS_ARGS:-}" ] || args+=($SCOUT_CMAKE_DEPS_ARGS)
  local cc=""
  if command -v nvidia-smi >/dev/null; then
    cc=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d ' ' || true)
  fi
  if [[ "$cc" == 9.* ]]; then
    args+=(-DCMAKE_CUDA_ARCHITECTURES=90a-real)
    echo "build: compute capability $cc: CUDA archs 90a-real only"
  fi
  # CMake 3.25.0/3.25.1's FindCUDAToolkit fails with CUDA 12.9+ ("could not
  # find TARGET CUDA::nvToolsExt": that library is gone); 3.25.2 fixed it.
  # On those versions use a copy of the module with the fix's guard.
  local cmver mods
  cmver=$(cmake --version | head -1 | awk '{print $3}')
  mods=$(dirname "$(readlink -f "$(command -v cmake)")")/../share/cmake-${cmver%.*}/Modules
  if [[ "$cmver" == 3.25.[01] ]] && [ -f "$mods/FindCUDAToolkit.cmake" ] &&
    grep -q '^    if(CMAKE_MINIMUM_REQUIRED_VERSION VERSION_GREATER_EQUAL 3.25)' "$mods/FindCUDAToolkit.cmake"; then
    mods=$(cd "$mods" && pwd)
    mkdir -p "$b/gpu-check-cmake"
    sed -e 's/^    if(CMAKE_MINIMUM_REQUIRED_VERSION VERSION_GREATER_EQUAL 3.25)/    if(TARGET CUDA::nvToolsExt AND CMAKE_MINIMUM_REQUIRED_VERSION VERSION_GREATER_EQUAL 3.25)/' \
      -e "s#\${CMAKE_CURRENT_LIST_DIR}/#$mods/#" "$mods/FindCUDAToolkit.cmake" >"$b/gpu-check-cmake/FindCUDAToolkit.cmake"
    args+=("-DCMAKE_MODULE_PATH=$(cd "$b/gpu-check-cmake" && pwd)")
    echo "build: cmake $cmver: using FindCUDAToolkit.cmake with 3.25.2's nvToolsExt fix ($b/gpu-check-cmake)"
  fi
  local t0=$EPOCHREALTIME conf_s build_s
  if ! cmake -S . -B "$b" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSCOUT_NATIVE=ON "${args[@]}" 2>&1 |
    tee "$work/configure.log"; then
    note "cmake configure failed: $(grep -m1 -A2 'CMake Error' "$work/configure.log" | tr -s ' \n' ' ' | cut -c1-300)"
    return 1
  fi
  conf_s=$(since "$t0")
  local t1=$EPOCHREALTIME
  if ! grep -q 'scout: CUDA backend ON' "$work/configure.log"; then
    note "CMake left the CUDA backend OFF (no nvcc found: put it on PATH or in /usr/local/cuda/bin)"
    return 1
  fi
  if [ "${SCOUT_DEPS_MODE:-}" = carried ] && ! grep -q "$SCOUT_DEPS_PREFIX" "$b/CMakeCache.txt"; then
    note "CMake did not pick up the carried dependencies in $SCOUT_DEPS_PREFIX"
    return 1
  fi
  if ! cmake --build "$b" -j"$(nproc)" 2>&1 | tee "$work/build-out.log"; then
    local err
    err=$(grep -m1 -E 'error:|undefined reference|fatal|Error [0-9]' "$work/build-out.log" | cut -c1-300 || true)
    note "cmake --build failed${err:+: $err}"
    return 1
  fi
  build_s=$(since "$t1")
  # The slowest steps of this build (for sizing the next one).
  local slow
  slow=$(python3 - "$b/.ninja_log" "$(nproc)" <<'PY' 2>/dev/null || true
import sys
rows = {}
for line in open(sys.argv[1]):
    if line.startswith("#"): continue
    s, e, _, out, *_ = line.rstrip("\n").split("\t")
    rows[out] = (int(e) - int(s)) / 1000
total = sum(rows.values())
top = sorted(rows.items(), key=lambda kv: -kv[1])[:5]
cu = sum(v for k, v in rows.items() if k.endswith(".cu.o"))
print(f"{len(rows)} steps taking {total:.0f} s summed ({cu:.0f} s in .cu files) on {sys.argv[2]} cores; slowest: "
      + ", ".join(f"{k.rsplit('/', 1)[-1]} {v:.0f} s" for k, v in top))
PY
)
  echo "build: configure ${conf_s} s, build ${build_s} s; $slow"
  note "configure ${conf_s} s + build ${build_s} s on $(nproc) cores"
  section "- build: configure ${conf_s} s, build ${build_s} s with $(nproc) cores${cc:+, CUDA archs 90a-real (compute capability $cc)}" \
    "  - $slow"
}

stage_gpu() {
  local why="" smi="" listed=0
  if command -v nvidia-smi >/dev/null; then
    if smi=$(nvidia-smi -L 2>&1) && grep -q '^GPU [0-9]' <<<"$smi"; then
      listed=1
      echo "$smi"
      nvidia-smi --query-gpu=name,compute_cap,memory.total,driver_version,clocks.max.memory --format=csv || true
      nvidia-smi --query-gpu=name,compute_cap,memory.total,driver_version --format=csv,noheader >"$work/gpu.info" 2>/dev/null || true
    else
      why="nvidia-smi -L: $(echo "$smi" | head -1)"
    fi
  else
    why="nvidia-smi not found"
  fi
  # The binary's own view (the driver, a device): the embedded default model.
  local probe
  if probe=$(with_deps "$SCOUT_BUILD_DIR/scout" bench --device cuda -p 0 -n 4 -r 1 -o md 2>&1); then
    echo "$probe"
    if [ -n "$why" ]; then echo "note: $why, but scout sees a GPU"; fi
    section "- GPU: $(cat "$work/gpu.info" 2>/dev/null || echo "seen by scout; nvidia-smi: $why")"
    note "$(cut -d, -f1,2 "$work/gpu.info" 2>/dev/null || echo "a GPU")"
    return 0
  fi
  echo "$probe"
  local scout_why
  scout_why=$(echo "$probe" | grep -m1 -- '--device cuda' || echo "$probe" | tail -1)
  scout_why=${scout_why#scout: error: }
  if [ "$listed" = 1 ]; then
    # A GPU is there and scout cannot use it: that is a finding, not a skip.
    note "nvidia-smi lists a GPU but scout cannot use it: $scout_why"
    return 1
  fi
  why="${why:+$why; }scout: $scout_why"
  printf '%s\n' "$why" >"$work/nogpu"
}

stage_tests() {
  local b=$SCOUT_BUILD_DIR
  set +e
  with_deps ctest --test-dir "$b" -R 'Cuda|Device' --output-on-failure -j4 --output-junit "$work/tests.xml"
  local rc=$?
  set -e
  local counts
  counts=$(python3 - "$work/tests.xml" <<'PY'
import sys, xml.etree.ElementTree as ET
r = ET.parse(sys.argv[1]).getroot()
cases = r.findall(".//testcase")
failed = [c.get("name") for c in cases if c.find("failure") is not None or c.get("status") == "fail"]
skipped = [c for c in cases if c.find("skipped") is not None or c.get("status") in ("notrun", "disabled")]
passed = len(cases) - len(failed) - len(skipped)
reasons = {}
for c in skipped:
    lines = (c.findtext("system-out") or "").splitlines()
    i = next((k for k, l in enumerate(lines) if l.rstrip().endswith("Skipped")), None)
    why = lines[i + 1].strip() if i is not None and i + 1 < len(lines) else "(no reason printed)"
    reasons.setdefault(why, []).append(c.get("name").split("  #")[0])
print(f"{len(cases)} tests: {passed} passed, {len(failed)} failed, {len(skipped)} skipped")
for n in failed: print(f"  - FAILED {n.split('  #')[0]}")
for why, names in reasons.items():
    print(f"  - {len(names)} skipped ({', '.join(names[:3])}{', ...' if len(names) > 3 else ''}): {why[:200]}")
PY
) || counts="(could not read $work/tests.xml)"
  echo "$counts"
  section "- tests (ctest -R 'Cuda|Device'): $counts"
  if [ "$rc" -ne 0 ]; then note "ctest -R 'Cuda|Device' failed: $(echo "$counts" | head -1)"; return 1; fi
  if echo "$counts" | grep -q '^0 tests'; then note "ctest found no Cuda|Device tests"; return 1; fi
  note "$(echo "$counts" | head -1)"
}

stage_sanitizer() {
  local cs=""
  cs=$(command -v compute-sanitizer || true)
  for c in /usr/local/cuda/bin/compute-sanitizer /usr/local/cuda/compute-sanitizer/compute-sanitizer; do
    if [ -z "$cs" ] && [ -x "$c" ]; then cs=$c; fi
  done
  if [ -z "$cs" ]; then
    echo "compute-sanitizer not found"
    note "skipped: compute-sanitizer not found"
    section "- sanitizer: skipped (compute-sanitizer not found)"
    return 0
  fi
  local filter='*Cuda*:-*Oracle*' limit=120
  if [ "$limit" -gt $(($(secs_left) - 10)) ]; then limit=$(($(secs_left) - 10)); fi
  set +e
  with_deps timeout -k 5 "$limit" "$cs" --tool memcheck --error-exitcode 86 --print-limit 20 \
    "$SCOUT_BUILD_DIR/tests/scout_tests" --gtest_filter="$filter" 2>&1 | tee "$work/sanitizer.out"
  local rc=${PIPESTATUS[0]}
  set -e
  local errs tests
  errs=$(grep -m1 -E '^========= ERROR SUMMARY' "$work/sanitizer.out" || true)
  tests=$(grep -E '^\[  (PASSED|FAILED|SKIPPED) ' "$work/sanitizer.out" | sed 's/^\[ *//; s/ *\]//' | paste -sd';' || true)
  case "$rc" in
    0) section "- sanitizer (memcheck, --gtest_filter='$filter'): clean; ${errs#========= }; $tests"
      note "memcheck clean" ;;
    124|137)
      section "- sanitizer: timed out after ${limit} s (inconclusive; memcheck is slow); $tests"
      note "timed out after ${limit} s: inconclusive" ;;
    86)
      section "- sanitizer: memcheck found errors: ${errs#========= } (see sanitizer.log)"
      note "compute-sanitizer memcheck: ${errs#========= }"
      return 1 ;;
    *)
      if grep -qE 'Device not supported|not supported on this platform|Unable to (find|initialize)' "$work/sanitizer.out"; then
        section "- sanitizer: skipped: $(grep -m1 -E 'not supported|Unable to' "$work/sanitizer.out")"
        note "skipped: the tool does not support this device/platform"
        return 0
      fi
      section "- sanitizer: exit $rc under memcheck ($tests)"
      note "tests under compute-sanitizer exited $rc: $tests"
      return 1 ;;
  esac
}

stage_bench() {
  local scout=$SCOUT_BUILD_DIR/scout dir=$SCOUT_BUILD_DIR/bench-models
  mkdir -p "$dir"
  local vocab=builtin
  if [ -f "$root/../shared/models/llama4/tokenizer.model" ]; then vocab=$root/../shared/models/llama4/tokenizer.model; fi
  local n prev_n=0 prev_cost=0 done_layers=()
  : >"$work/bench.rows"
  for n in $SCOUT_BENCH_LAYERS; do
    local f=$dir/scout-layers-$n-q4_k_m.gguf left
    left=$(secs_left)
    if [ "$prev_n" -gt 0 ]; then
      local need=$((prev_cost * n / prev_n + 20))
      if [ "$need" -gt "$left" ]; then
        echo "bench: skipping $n layers: needs ~${need} s, ${left} s left"
        section "- bench: $n layers skipped (needs ~${need} s, ${left} s left in the budget)"
        break
      fi
    fi
    local t0=$SECONDS
    if [ ! -f "$f" ]; then
      local q6='{"output":"q6_K"' l t
      for ((l = 0; l < n; l += 4)); do
        for t in attn_v ffn_down_exps ffn_down_shexp; do q6="$q6,\"blk.$l.$t.weight\":\"q6_K\""; done
      done
      q6="$q6}"
      echo "bench: making $f (vocab $vocab)"
      if ! with_deps "$scout" make-model --preset scout-layers --layers "$n" --type q4_K --set "tensor_types=$q6" \
        --vocab "$vocab" -o "$f.part"; then
        note "scout make-model (scout-layers, $n layers) failed"
        return 1
      fi
      mv "$f.part" "$f"
    fi
    local t1=$SECONDS
    echo "bench: $f: $(du -hL "$f" | cut -f1), made in $((t1 - t0)) s"
    if ! with_deps "$scout" bench --device cuda --load map -m "$f" -p 512 -n 128 -r 3 -o json \
      >"$work/bench-$n.json" 2>"$work/bench-$n.err"; then
      cat "$work/bench-$n.err"
      note "scout bench --device cuda on the $n-layer file failed: $(grep -m1 -i 'error' "$work/bench-$n.err" || tail -1 "$work/bench-$n.err")"
      return 1
    fi
    cat "$work/bench-$n.err"
    local t2=$SECONDS
    echo "bench: $n layers benched in $((t2 - t1)) s"
    cat "$work/bench-$n.json"
    echo "$n $work/bench-$n.json $((t1 - t0)) $((t2 - t1))" >>"$work/bench.rows"
    done_layers+=("$n")
    prev_n=$n
    prev_cost=$((t2 - t0))
  done
  [ "${#done_layers[@]}" -gt 0 ] || { note "no bench ran (no time left)"; return 1; }
  local gpu_name
  gpu_name=$(cut -d, -f1 "$work/gpu.info" 2>/dev/null || true)
  bench_report "$work/bench.rows" "$gpu_name" "$out/bench.json" >>"$work/$STAGE.md"
  note "$(grep -m1 -o 'generation (tg128): one layer [^(]*' "$work/$STAGE.md" || true)"
  cat "$work/$STAGE.md"
}

# bench_report ROWS GPU_NAME OUT_JSON: the markdown section from the bench
# JSON files listed in ROWS ("LAYERS FILE MAKE_S BENCH_S" lines).
bench_report() {
  python3 - "$@" <<'PY'
import json, sys
rows_file, gpu, out_json = sys.argv[1], sys.argv[2].strip(), sys.argv[3]
g = gpu.upper()
# Vendor datasheet memory bandwidth, GB/s.
if "H200" in g: peak, peak_src = 4800.0, "H200 4.8 TB/s"
elif "H100" in g and "PCIE" in g: peak, peak_src = 2000.0, "H100 PCIe 2.0 TB/s"
elif "H100" in g and "NVL" in g: peak, peak_src = 3900.0, "H100 NVL 3.9 TB/s"
elif "H100" in g: peak, peak_src = 3350.0, "H100 SXM 3.35 TB/s"
elif "A100" in g: peak, peak_src = 2039.0, "A100 80GB SXM 2.0 TB/s"
else: peak, peak_src = None, "unknown GPU"
res, all_rows = {}, []
for line in open(rows_file):
    n, path, make_s, bench_s = line.split()
    n = int(n)
    data = json.load(open(path))
    for r in data:
        r["layers"] = n
        all_rows.append(r)
        res[(n, r["test"])] = r
    res[(n, "make_s")], res[(n, "bench_s")] = int(make_s), int(bench_s)
json.dump(all_rows, open(out_json, "w"), indent=1)
layers = sorted({n for (n, _) in res})
gb = lambda b: b / 1e9
print(f"- bench (scout bench --device cuda --load map -p 512 -n 128 -r 3; GPU bandwidth: {peak_src}):")
print()
print("| layers | file GB | pp512 t/s | tg128 t/s | weights/token GB | tg weight GB/s | % of GPU bandwidth | make s | bench s |")
print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for n in layers:
    pp, tg = res.get((n, "pp512")), res.get((n, "tg128"))
    size = gb((pp or tg)["model_size"])
    bpt = tg["weight_bytes_per_token"] if tg else None
    gbs = tg["weight_gb_per_s"] if tg else None
    pct = f"{100 * gbs / peak:.1f}%" if (gbs and peak) else ""
    print(f"| {n} | {size:.2f} | {pp['avg_ts']:.1f} ± {pp['stddev_ts']:.1f} | {tg['avg_ts']:.2f} ± {tg['stddev_ts']:.2f} | "
          f"{gb(bpt):.3f} | {gbs:.1f} | {pct} | {res[(n, 'make_s')]} | {res[(n, 'bench_s')]} |")
print()
def ms_per_token(n, test):
    r = res[(n, test)]
    return 1e3 / r["avg_ts"]
if len(layers) >= 2:
    a, b = layers[0], layers[-1]
    for test, what in (("tg128", "generation"), ("pp512", "prompt")):
        per = (ms_per_token(b, test) - ms_per_token(a, test)) / (b - a)
        fixed = ms_per_token(a, test) - a * per
        full = fixed + 48 * per
        line = (f"- {what} ({test}): one layer {per:.3f} ms/token (difference of the {a}- and {b}-layer files / {b - a}), "
                f"fixed part {fixed:.3f} ms; 48 layers: {full:.2f} ms/token = {1e3 / full:.1f} t/s")
        if test == "tg128":
            bpl = (res[(b, test)]["weight_bytes_per_token"] - res[(a, test)]["weight_bytes_per_token"]) / (b - a)
            line += f"; one layer reads {gb(bpl):.3f} GB/token -> {gb(bpl) / (per / 1e3):.1f} GB/s"
            if peak: line += f" ({100 * gb(bpl) / (per / 1e3) / peak:.1f}% of {peak_src})"
        print(line)
else:
    a = layers[0]
    for test, what in (("tg128", "generation"), ("pp512", "prompt")):
        per = ms_per_token(a, test) / a
        print(f"- {what} ({test}): one layer <= {per:.3f} ms/token ({a}-layer time / {a}: an upper bound that "
              f"includes the fixed part; the second file did not fit the time budget); 48 layers: "
              f"~{48 * per:.2f} ms/token = {1e3 / (48 * per):.1f} t/s")
print("- full Scout: 48 layers x ~1.2 GB (q4_K) = ~58 GB of weights")
PY
}
export -f stage_deps stage_build stage_gpu stage_tests stage_sanitizer stage_bench bench_report

# ------------------------------------------------------------- the driver --

rows=()
status="running"
write_summary() {
  {
    echo "# scout gpu-check"
    echo
    echo "- $(date -u '+%Y-%m-%d %H:%M UTC'), host $(uname -n), $(nproc) cores, repo $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '(no git)')"
    echo "- result: $status"
    echo
    echo "| stage | result | seconds | note |"
    echo "| --- | --- | ---: | --- |"
    printf '%s\n' "${rows[@]}"
    echo
    local s
    for s in deps build gpu tests sanitizer bench; do
      if [ -s "$work/$s.md" ]; then cat "$work/$s.md"; fi
    done
  } >"$out/summary.md"
}

# run_stage NAME LIMIT_S: runs stage_NAME under timeout, logging to NAME.log.
run_stage() {
  local name=$1 limit=$2 left rc t0 dt why
  left=$(secs_left)
  if [ "$limit" -gt "$left" ]; then limit=$left; fi
  if [ "$limit" -lt 5 ]; then
    rows+=("| $name | not run | 0 | the ${budget} s budget is spent |")
    status="stopped: the ${budget} s budget ran out before stage $name"
    write_summary
    echo "gpu-check: FAILED at stage $name: the ${budget} s budget ran out" >&2
    exit 1
  fi
  echo "== gpu-check: $name (at most ${limit} s) =="
  t0=$EPOCHREALTIME
  set +e
  STAGE=$name timeout -k 10 "$limit" bash -c 'set -euo pipefail; "$@"' stage "stage_$name" 2>&1 | tee "$out/$name.log"
  rc=${PIPESTATUS[0]}
  set -e
  dt=$(since "$t0")
  last_dt=$dt
  if [ "$rc" -eq 0 ]; then
    rows+=("| $name | ok | $dt | $(cat "$work/$name.note" 2>/dev/null || true) |")
    write_summary
    if [ "${SCOUT_CHECK_STOP_AFTER:-}" = "$name" ]; then
      status="stopped after stage $name (SCOUT_CHECK_STOP_AFTER)"
      write_summary
      echo "gpu-check: stopping after stage $name (SCOUT_CHECK_STOP_AFTER)"
      exit 0
    fi
    return 0
  fi
  if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
    why="timed out after ${limit} s"
  else
    why=$(cat "$work/$name.note" 2>/dev/null || true)
    [ -n "$why" ] || why="exit $rc; last line: $(grep -v '^\s*$' "$out/$name.log" | tail -1)"
  fi
  rows+=("| $name | FAILED | $dt | ${why//|/\\|} |")
  status="FAILED at stage $name: $why"
  write_summary
  echo "gpu-check: FAILED at stage $name: $why (log: $out/$name.log)" >&2
  exit 1
}

echo "gpu-check: repo $root, output $out, budget ${budget} s"
write_summary

run_stage deps 60
set -a
# shellcheck disable=SC1091
. "$work/deps.env"
set +a
run_stage build "${SCOUT_BUILD_LIMIT_S:-330}"
run_stage gpu 60
if [ -f "$work/nogpu" ]; then
  why=$(cat "$work/nogpu")
  rows[-1]="| gpu | no GPU | $last_dt | ${why//|/\\|} |"
  status="no GPU: $why; stopped before the GPU stages (tests, sanitizer, bench)"
  write_summary
  echo "no GPU: $why; stopping before the GPU stages"
  exit 0
fi
run_stage tests 150
run_stage sanitizer 130
run_stage bench 400
status="passed (all stages, $(($(date +%s) - start_epoch)) s)"
write_summary
echo "gpu-check: passed in $(($(date +%s) - start_epoch)) s; summary: $out/summary.md"
cat "$out/summary.md"
