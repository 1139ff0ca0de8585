#!/usr/bin/env bash
# bin/anvil test-gpu [DIR]: the bundle that checks the CUDA backend on a GPU machine, which has CUDA, PyTorch and
# transformers but no JDK, and takes at most 64 MiB of files. DIR (default target/gpu-bundle) receives:
#   jre.tar.xz  a jlink runtime (java.base, jdk.incubator.vector, java.logging; stripped, xz-compressed)
#   lib/        the tools jar (GpuCheck, synth) with the engine, engine-cuda (with its PTX), JCuda and JSON-P jars
#   ref/        llama.cpp reference models and outputs that fit beside them
#   run.sh      the checks and the benchmark, in order; run it there as `bash run.sh OUTDIR`
#   torch_bench.py  the PyTorch/transformers eager fp16 reference of the same shape
# The size of everything is printed; the build fails if it exceeds 64 MiB.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../../.." && pwd)"
OUT="${1:-$ROOT/target/gpu-bundle}"
cd "$ROOT"
if [ ! -f tools/target/anvil-tools.jar ] || ! ls tools/target/lib/anvil-engine-cuda-*.jar >/dev/null 2>&1; then
  nice -n 19 ./mvnw -B -q -o package -DskipTests -pl engine,engine-cuda,tools -am >&2
fi
rm -rf "$OUT"; mkdir -p "$OUT/lib" "$OUT/ref"
# The runtime travels as jre.tar.xz (libjvm.so alone is 29 MB; xz takes the runtime from 44 to about 20 MB) and
# run.sh unpacks it into /tmp there.
"$JAVA_HOME/bin/jlink" --add-modules java.base,jdk.incubator.vector,java.logging \
  --compress=zip-9 --strip-debug --no-header-files --no-man-pages --output "$OUT/jre"
command -v strip >/dev/null && strip --strip-unneeded "$OUT/jre/lib/server/libjvm.so"
tar -C "$OUT" -cf - jre | xz -6 -T2 > "$OUT/jre.tar.xz"
rm -rf "$OUT/jre"
# The tools jar (GpuCheck, synth) and what it runs on, as its package step lays them out: engine, engine-cuda (with
# its PTX), JCuda and its natives, JSON-P.
cp tools/target/anvil-tools.jar tools/target/lib/*.jar "$OUT/lib/"
# JCuda's natives jar holds every binding (24 MB of them the PTX compiler's); the backend loads the driver's only.
natives="$(ls "$OUT"/lib/jcuda-natives-*.jar)"; tmp="$(mktemp -d)"
(cd "$tmp" && "$JAVA_HOME/bin/jar" -xf "$natives" && find lib -name '*.so' ! -name 'libJCudaDriver-*' -delete)
rm "$natives"; "$JAVA_HOME/bin/jar" --create --file "$natives" -C "$tmp" .; rm -rf "$tmp"
REF="$ROOT/../shared/reference"
# Two references fit beside the runtime: Q4_0 (llama, NORM RoPE) and Q4_K_M (phi3: Q4_K + Q6_K, NEOX, fused QKV).
# Others (GGUF name and tolerance) can be swapped in with ANVIL_GPU_REFS="models/ref-spm-q8_0:0.5 arch/gemma2-f16:0.05".
REFS="${ANVIL_GPU_REFS:-models/ref-spm-q4_0:0.5 arch/phi3-q4_k_m:0.75}"
for r in $REFS; do
  f="${r%%:*}"; n="$(basename "$f")"
  cp "$REF/$f.gguf" "$OUT/ref/"
  if [ -f "$REF/outputs/$n.jsonl" ]; then cp "$REF/outputs/$n.jsonl" "$OUT/ref/"; else cp "$REF/$f.jsonl" "$OUT/ref/"; fi
done
cp engine-cuda/src/build/torch_bench.py "$OUT/"
cat > "$OUT/run.sh" <<RUN
#!/usr/bin/env bash
# On the GPU machine: bash run.sh OUTDIR. Prints PASS/FAIL lines and BENCH lines; exits 1 if a check failed.
set -u
cd "\$(dirname "\$0")"; LOG="\${1:-/tmp}/gpu-check.log"; mkdir -p "\$(dirname "\$LOG")"
exec > >(tee "\$LOG") 2>&1
[ -x /tmp/anvil-jre/jre/bin/java ] || { mkdir -p /tmp/anvil-jre && xz -dc jre.tar.xz | tar -C /tmp/anvil-jre -xf -; }
J() { /tmp/anvil-jre/jre/bin/java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -cp 'lib/*' "\$@"; }
fail=0
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
# 1. llama.cpp references, teacher-forced, GPU (and CPU beside it)
for r in $REFS; do n="\$(basename "\${r%%:*}")"; J dev.anvil.tools.model.GpuCheck reference "ref/\$n.gguf" "ref/\$n.jsonl" "\${r##*:}" || fail=1; done
# 2. GPU against CPU for each weight type the synthesizer writes (Q6_K comes with the Q4_K_M reference above)
for t in F32:0.01 F16:0.05 BF16:0.05 Q8_0:0.5 Q4_0:0.75 Q4_K:0.75; do
  J dev.anvil.tools.AnvilCli synth --shape tiny --type "\${t%%:*}" --out "/tmp/tiny-\${t%%:*}.gguf" >/dev/null &&
  J dev.anvil.tools.model.GpuCheck agree "/tmp/tiny-\${t%%:*}.gguf" "\${t##*:}" || fail=1
done
# 3. decode benchmark, Llama-3-8B shape, synthesized here (8B weights cannot be carried)
if [ "\${ANVIL_GPU_BENCH:-1}" = 1 ]; then
  for t in Q8_0 Q4_K; do
    J dev.anvil.tools.AnvilCli synth --shape llama-3-8b --type \$t --out /tmp/llama3-8b-\$t.gguf >/dev/null &&
    J -Danvil.bench.hbm-bytes-per-s="\${HBM:-3.35e12}" dev.anvil.tools.model.GpuCheck bench /tmp/llama3-8b-\$t.gguf 1 16 64
    rm -f /tmp/llama3-8b-\$t.gguf
  done
  PYTHONUNBUFFERED=1 python3 torch_bench.py 1 16 64
fi
exit \$fail
RUN
chmod +x "$OUT/run.sh"
bytes=$(du -sb "$OUT" | cut -f1)
echo "test-gpu: bundle $OUT: $(awk -v b="$bytes" 'BEGIN {printf "%.1f MiB", b / 1048576}') (jre.tar.xz $(du -sh "$OUT/jre.tar.xz" | cut -f1), lib $(du -sh "$OUT/lib" | cut -f1), ref $(du -sh "$OUT/ref" | cut -f1))"
if [ "$bytes" -gt $((64 * 1048576)) ]; then echo "test-gpu: the bundle exceeds the 64 MiB a GPU machine takes" >&2; exit 1; fi
echo "test-gpu: on the GPU machine: bash run.sh \$OUT   (device tool: copy it into an ignored folder of the repo, carry it, run it)"
