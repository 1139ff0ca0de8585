#!/usr/bin/env bash
# The CUDA kernels' build step (run by Maven in generate-resources, or by hand).
#
#   ptx.sh build  OUT   check the committed PTX is current, compile src/main/cuda/*.cu with nvcc into OUT where nvcc
#                       is present (else copy the committed PTX into OUT), and assemble every PTX in OUT with
#                       ptxas -arch=sm_90 where ptxas is present
#   ptx.sh update       recompile the committed PTX and record the hash of the sources it was made from
#
# PTX is for the virtual architecture compute_80 (Ampere): the driver JIT-compiles it for the GPU it runs on,
# Hopper included, so one PTX serves every GPU from sm_80 up. The committed PTX lets machines without nvcc build
# the same jar; sources.sha256 records which sources it was compiled from, and a build whose sources hash
# differently fails ("stale"), so the jar never carries kernels older than their sources.
set -euo pipefail
HERE="$(cd "$(dirname "$0")/.." && pwd)"      # engine-cuda/src
CU="$HERE/main/cuda"
COMMITTED="$HERE/main/resources/dev/anvil/engine/cuda"
ARCH=compute_80
NVCC="${NVCC:-$(command -v nvcc || echo /usr/local/bin/nvcc)}"
PTXAS="${PTXAS:-$(command -v ptxas || echo /usr/local/bin/ptxas)}"

sources_hash() { (cd "$CU" && sha256sum ./*.cu ./*.cuh 2>/dev/null | LC_ALL=C sort -k2 | sha256sum | cut -d' ' -f1); }

compile() { # dir
  for f in "$CU"/*.cu; do
    n="$(basename "$f" .cu)"
    "$NVCC" -ptx -arch="$ARCH" -O3 -std=c++17 -I"$CU" -o "$1/$n.ptx" "$f"
  done
}

case "${1:-}" in
  update)
    [ -x "$NVCC" ] || { echo "ptx.sh: nvcc not found (NVCC=$NVCC); cannot regenerate the PTX" >&2; exit 1; }
    rm -f "$COMMITTED"/*.ptx
    compile "$COMMITTED"
    sources_hash > "$COMMITTED/sources.sha256"
    echo "ptx.sh: regenerated $(ls "$COMMITTED"/*.ptx | wc -l) PTX files with $("$NVCC" --version | tail -1)"
    ;;
  build)
    OUT="${2:?output directory}"
    mkdir -p "$OUT"; rm -f "$OUT"/*.ptx
    want="$(sources_hash)"; have="$(cat "$COMMITTED/sources.sha256" 2>/dev/null || echo none)"
    if [ "$want" != "$have" ]; then
      echo "ptx.sh: the committed PTX is stale: src/main/cuda hashes to $want, the PTX was made from $have." >&2
      echo "ptx.sh: run engine-cuda/src/build/ptx.sh update (needs nvcc) and commit src/main/resources/dev/anvil/engine/cuda." >&2
      exit 1
    fi
    if [ -x "$NVCC" ]; then
      compile "$OUT"
      echo "ptx.sh: compiled $(ls "$CU"/*.cu | wc -l) CUDA sources to $ARCH PTX with $("$NVCC" --version | tail -1)"
    else
      cp "$COMMITTED"/*.ptx "$OUT"/
      echo "ptx.sh: nvcc not found: using the committed PTX (current: its recorded source hash matches)"
    fi
    if [ -x "$PTXAS" ]; then
      for p in "$OUT"/*.ptx; do "$PTXAS" -arch=sm_90 -O3 -o /dev/null "$p"; done
      echo "ptx.sh: ptxas -arch=sm_90 assembled $(grep -h -c '^\.visible \.entry' "$OUT"/*.ptx | awk '{s+=$1} END {print s}') kernels"
    else
      echo "ptx.sh: ptxas not found: the kernels were NOT assembled for sm_90 on this machine (CI has /usr/local/bin/ptxas)"
    fi
    ;;
  *) echo "usage: ptx.sh build OUT | ptx.sh update" >&2; exit 2 ;;
esac
