package dev.anvil.engine.cuda;

import static jcuda.driver.JCudaDriver.*;

import dev.anvil.engine.ArchitectureTraits;
import dev.anvil.engine.DeviceBackend;
import dev.anvil.engine.DeviceBatch;
import dev.anvil.engine.GgmlType;
import dev.anvil.engine.KvCachePool;
import dev.anvil.engine.LlamaModel;
import dev.anvil.engine.ModelConfig;
import dev.anvil.engine.ModelWeights;
import dev.anvil.engine.WeightMatrix;
import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.MemorySegment;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import jcuda.Pointer;
import jcuda.Sizeof;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUfunction;
import jcuda.driver.CUmodule;
import jcuda.driver.CUstream;

/**
 * One loaded model on one CUDA device: its weights uploaded once in their GGUF encodings ({@link WeightLayout}), a
 * device KV cache with the geometry of the scheduler's {@link KvCachePool} (fp16, one arena per layer group, block
 * ids as the pool hands them out), and {@link LlamaModel}'s forward pass as a sequence of kernel launches on one
 * stream, every family's differences taken from the same {@link ArchitectureTraits} as on the CPU. The host syncs
 * once per pass, when the logits come back.
 *
 * <p>Buffers for activations grow to the largest batch seen and are reused; the pass itself allocates nothing.
 */
final class CudaModel implements DeviceBackend, KvCachePool.BlockStorage {

    private static final List<String> MODULES = List.of("matvec", "matmul", "layers", "attention");

    private final ModelConfig c;
    private final ModelWeights w;
    private final KvCachePool pool;
    private final KvCachePool.Layout kv;
    private final int device;
    private final String description;
    private final CUcontext ctx = new CUcontext();
    private final CUstream stream = new CUstream();
    private final Map<String, CUfunction> functions = new HashMap<>();
    private final CUmodule[] modules = new CUmodule[MODULES.size()];

    private final WeightLayout layout;
    private final CUdeviceptr weights = new CUdeviceptr();
    private final CUdeviceptr[] arenas; // per KV group
    private final CUdeviceptr[][] norms; // per layer: attn, ffn, q, k, postAttn, postFfn, bq, bk, bv (null if absent)
    private final CUdeviceptr[] ropeFreq; // per layer
    private final CUdeviceptr outputNorm;
    private final long kvBytes;

    // Per-pass buffers, grown on demand.
    private int capTokens, capRows;
    private long capTable;
    private CUdeviceptr x, xb, xb2, q, k, v, hb, hb2, sel, logits, tokens, pos, rows;
    private CUdeviceptr[] blockOf, tables, tableStart;

    CudaModel(LlamaModel model, int device, KvCachePool pool) {
        this.c = model.config();
        this.w = model.weights();
        this.pool = pool;
        this.kv = pool.layout();
        this.device = device;
        if (c.headSize() > LaunchGeometry.MAX_HEAD_SIZE)
            throw new IllegalArgumentException("head size " + c.headSize() + " is above the CUDA attention kernel's "
                    + LaunchGeometry.MAX_HEAD_SIZE);
        this.layout = new WeightLayout(w);
        CudaAccelerator accel = new CudaAccelerator();
        var probe = accel.probe();
        if (!probe.available()) throw new IllegalStateException("no CUDA device: " + probe.problem());
        var info = CudaAccelerator.describe(device);
        long need = bytesNeeded(model, pool);
        if (need > info.freeBytes())
            throw new IllegalStateException(String.format(
                    Locale.ROOT,
                    "%s needs %.1f MiB on cuda:%d (%s), which has %.1f MiB free",
                    model.path().getFileName(),
                    need / 1048576.0,
                    device,
                    info.name(),
                    info.freeBytes() / 1048576.0));
        this.description =
                "cuda:" + device + " (" + info.name() + ", sm_" + info.computeMajor() + info.computeMinor() + ")";
        CUdevice dev = new CUdevice();
        cuDeviceGet(dev, device);
        cuCtxCreate(ctx, 0, dev);
        try {
            cuStreamCreate(stream, 0);
            loadKernels();
            cuMemAlloc(weights, layout.totalBytes());
            for (WeightLayout.Slot s : layout.slots()) upload(s);
            this.arenas = new CUdeviceptr[kv.groups()];
            long total = 0;
            for (int g = 0; g < kv.groups(); g++) {
                long bytes = arenaBytes(kv, g);
                arenas[g] = new CUdeviceptr();
                cuMemAlloc(arenas[g], bytes);
                cuMemsetD8(arenas[g], (byte) 0, bytes);
                total += bytes;
            }
            this.kvBytes = total;
            this.norms = new CUdeviceptr[c.layers()][];
            this.ropeFreq = new CUdeviceptr[c.layers()];
            for (int l = 0; l < c.layers(); l++) {
                ModelWeights.Layer lw = w.layers().get(l);
                norms[l] = new CUdeviceptr[] {
                    floats(lw.attnNorm()),
                    floats(lw.ffnNorm()),
                    floats(lw.qNorm()),
                    floats(lw.kNorm()),
                    floats(lw.postAttnNorm()),
                    floats(lw.postFfnNorm()),
                    floats(lw.bq()),
                    floats(lw.bk()),
                    floats(lw.bv())
                };
                double[] f = model.ropeFrequencies(l);
                ropeFreq[l] = new CUdeviceptr();
                cuMemAlloc(ropeFreq[l], (long) f.length * Sizeof.DOUBLE);
                cuMemcpyHtoD(ropeFreq[l], Pointer.to(f), (long) f.length * Sizeof.DOUBLE);
            }
            this.outputNorm = floats(w.outputNorm());
            cuStreamSynchronize(stream);
            cuCtxPopCurrent(new CUcontext());
            pool.storeBlocksIn(this);
        } catch (RuntimeException e) {
            cuCtxDestroy(ctx);
            throw e;
        }
    }

    /** Device bytes of the weights, norms and KV cache of {@code model} with {@code pool}'s geometry. */
    static long bytesNeeded(LlamaModel model, KvCachePool pool) {
        ModelConfig c = model.config();
        long bytes = new WeightLayout(model.weights()).totalBytes();
        KvCachePool.Layout kv = pool.layout();
        for (int g = 0; g < kv.groups(); g++) bytes += arenaBytes(kv, g);
        // Norms and RoPE tables, and the activations of a 512-token pass with 64 logit rows (the buffers grow beyond).
        bytes += (long) c.layers() * (4L * c.dim() + 4L * c.headSize() + (long) c.ropeDim() * 4);
        bytes += 512L * 4 * (3L * c.dim() + 2L * c.qDim() + 2L * c.kvDim() + 2L * c.hiddenDim());
        bytes += 64L * 4 * ((long) c.vocabSize() + c.dim());
        return bytes;
    }

    /** fp16 bytes of group {@code g}'s blocks: every block id the pool may hand out. */
    static long arenaBytes(KvCachePool.Layout kv, int g) {
        return (long) kv.groupBlockIds()[g] * kv.groupBlockFloats()[g] * 2L;
    }

    private void loadKernels() {
        for (int i = 0; i < MODULES.size(); i++) {
            String name = MODULES.get(i);
            byte[] ptx = readPtx(name);
            modules[i] = new CUmodule();
            cuModuleLoadData(modules[i], ptx);
        }
        for (String fn : CudaKernels.ALL) {
            CUfunction f = new CUfunction();
            cuModuleGetFunction(f, modules[MODULES.indexOf(CudaKernels.moduleOf(fn))], fn);
            functions.put(fn, f);
        }
    }

    /** The PTX the build put into the jar, NUL-terminated as cuModuleLoadData wants it. */
    static byte[] readPtx(String module) {
        try (InputStream in = CudaModel.class.getResourceAsStream(module + ".ptx")) {
            if (in == null) throw new IllegalStateException("kernel module " + module + ".ptx missing from the jar");
            byte[] b = in.readAllBytes();
            return java.util.Arrays.copyOf(b, b.length + 1);
        } catch (IOException e) {
            throw new IllegalStateException("cannot read " + module + ".ptx", e);
        }
    }

    /** Copies one tensor's bytes from the mapped file, in pieces a ByteBuffer can address. */
    private void upload(WeightLayout.Slot s) {
        MemorySegment data = s.matrix().data();
        long n = s.bytes(), chunk = 1L << 30;
        for (long off = 0; off < n; off += chunk) {
            long len = Math.min(chunk, n - off);
            cuMemcpyHtoD(
                    weights.withByteOffset(s.offset() + off),
                    Pointer.to(data.asSlice(off, len).asByteBuffer()),
                    len);
        }
    }

    private static CUdeviceptr floats(float[] a) {
        if (a == null) return null;
        CUdeviceptr p = new CUdeviceptr();
        cuMemAlloc(p, (long) a.length * Sizeof.FLOAT);
        cuMemcpyHtoD(p, Pointer.to(a), (long) a.length * Sizeof.FLOAT);
        return p;
    }

    private static CUdeviceptr grow(CUdeviceptr old, long bytes) {
        if (old != null) cuMemFree(old);
        CUdeviceptr p = new CUdeviceptr();
        cuMemAlloc(p, Math.max(bytes, 4));
        return p;
    }

    private void ensure(int T, int R, DeviceBatch b) {
        long table = 0;
        for (int[] t : b.tables()) table = Math.max(table, t.length);
        if (T > capTokens) {
            capTokens = Math.max(T, 2 * capTokens);
            long t = capTokens * 4L;
            x = grow(x, t * c.dim());
            xb = grow(xb, t * c.dim());
            xb2 = grow(xb2, t * c.qDim());
            q = grow(q, t * c.qDim());
            k = grow(k, t * c.kvDim());
            v = grow(v, t * c.kvDim());
            hb = grow(hb, t * c.hiddenDim());
            hb2 = grow(hb2, t * c.hiddenDim());
            tokens = grow(tokens, t);
            pos = grow(pos, t);
            if (blockOf == null) {
                blockOf = new CUdeviceptr[kv.groups()];
                tableStart = new CUdeviceptr[kv.groups()];
                tables = new CUdeviceptr[kv.groups()];
            }
            for (int g = 0; g < kv.groups(); g++) {
                blockOf[g] = grow(blockOf[g], t);
                tableStart[g] = grow(tableStart[g], t);
            }
        }
        if (R > capRows) {
            capRows = Math.max(R, 2 * capRows);
            sel = grow(sel, capRows * 4L * c.dim());
            logits = grow(logits, capRows * 4L * c.vocabSize());
            rows = grow(rows, capRows * 4L);
        }
        if (table > capTable) {
            capTable = Math.max(table, 2 * capTable);
            for (int g = 0; g < kv.groups(); g++) tables[g] = grow(tables[g], capTable * 4);
        }
    }

    private void ints(CUdeviceptr dst, int[] src) {
        cuMemcpyHtoDAsync(dst, Pointer.to(src), src.length * 4L, stream);
    }

    @Override
    public float[] forward(DeviceBatch b) {
        cuCtxPushCurrent(ctx);
        try {
            return run(b);
        } finally {
            cuCtxPopCurrent(new CUcontext());
        }
    }

    private float[] run(DeviceBatch b) {
        final int T = b.tokens().length, R = b.logitRows().length;
        final int dim = c.dim(), hs = c.headSize(), heads = c.heads(), kvHeads = c.kvHeads(), hidden = c.hiddenDim();
        ArchitectureTraits tr = c.traits();
        ensure(T, R, b);
        ints(tokens, b.tokens());
        ints(pos, b.pos());
        ints(rows, b.logitRows());
        for (int g = 0; g < kv.groups(); g++) {
            ints(blockOf[g], b.blockOf()[g]);
            ints(tableStart[g], b.tableStart()[g]);
            ints(tables[g], b.tables()[g]);
        }
        WeightMatrix emb = w.tokenEmbedding();
        WeightLayout.Slot es = layout.slot(emb);
        launch(
                CudaKernels.embed(emb.type()),
                LaunchGeometry.perRow(T),
                CudaKernels.embedArgs(at(es), es.rowBytes(), tokens, x, dim, tr.embeddingScale()));
        for (int l = 0; l < c.layers(); l++) {
            ModelWeights.Layer lw = w.layers().get(l);
            CUdeviceptr[] n = norms[l];
            int g = kv.layerGroup()[l];
            rmsNorm(x, n[0], xb, T, dim);
            multiply(lw.wq(), xb, q, T);
            multiply(lw.wk(), xb, k, T);
            multiply(lw.wv(), xb, v, T);
            if (n[6] != null) addBias(q, n[6], c.qDim(), (long) T * c.qDim());
            if (n[7] != null) addBias(k, n[7], c.kvDim(), (long) T * c.kvDim());
            if (n[8] != null) addBias(v, n[8], c.kvDim(), (long) T * c.kvDim());
            if (n[2] != null) rmsNorm(q, n[2], q, T * heads, hs);
            if (n[3] != null) rmsNorm(k, n[3], k, T * kvHeads, hs);
            boolean neox = tr.rope() == ArchitectureTraits.RopeStyle.NEOX;
            launch(CudaKernels.ROPE, LaunchGeometry.perRow(T), rope(q, heads, l, neox));
            launch(CudaKernels.ROPE, LaunchGeometry.perRow(T), rope(k, kvHeads, l, neox));
            long blockHalfs = kv.groupBlockFloats()[g];
            launch(
                    CudaKernels.KV_STORE,
                    LaunchGeometry.perRow(T),
                    CudaKernels.kvStore(k, v, arenas[g], blockOf[g], pos, c.kvDim(), kv.layerSlot()[l], blockHalfs));
            launch(
                    CudaKernels.ATTENTION,
                    LaunchGeometry.attention(T, heads),
                    CudaKernels.attention(
                            q,
                            xb2,
                            arenas[g],
                            tables[g],
                            tableStart[g],
                            pos,
                            heads,
                            kvHeads,
                            hs,
                            c.kvDim(),
                            kv.layerSlot()[l],
                            blockHalfs,
                            pool.window(l),
                            tr.queryScale(),
                            tr.scoreScale(),
                            tr.attnLogitSoftcap()));
            multiply(lw.wo(), xb2, xb, T);
            if (n[4] != null) rmsNorm(xb, n[4], xb, T, dim);
            add(x, xb, (long) T * dim);
            rmsNorm(x, n[1], xb, T, dim);
            multiply(lw.gate(), xb, hb, T);
            multiply(lw.up(), xb, hb2, T);
            long hn = (long) T * hidden;
            launch(
                    CudaKernels.GATE,
                    LaunchGeometry.elementwise(hn),
                    CudaKernels.gate(hb, hb2, hn, tr.activation() == ArchitectureTraits.Activation.GELU_TANH));
            multiply(lw.down(), hb, xb, T);
            if (n[5] != null) rmsNorm(xb, n[5], xb, T, dim);
            add(x, xb, (long) T * dim);
        }
        launch(CudaKernels.GATHER_ROWS, LaunchGeometry.perRow(R), CudaKernels.gatherRows(x, rows, sel, dim));
        rmsNorm(sel, outputNorm, sel, R, dim);
        multiply(w.output(), sel, logits, R);
        long ln = (long) R * c.vocabSize();
        if (tr.finalLogitSoftcap() != 0f)
            launch(
                    CudaKernels.SOFTCAP,
                    LaunchGeometry.elementwise(ln),
                    CudaKernels.softcap(logits, ln, tr.finalLogitSoftcap()));
        float[] out = new float[(int) ln];
        cuMemcpyDtoHAsync(Pointer.to(out), logits, ln * 4, stream);
        cuStreamSynchronize(stream);
        return out;
    }

    private KernelArgs rope(CUdeviceptr vec, int nHeads, int layer, boolean neox) {
        return CudaKernels.rope(vec, pos, ropeFreq[layer], nHeads, c.headSize(), c.ropeDim(), neox);
    }

    private CUdeviceptr at(WeightLayout.Slot s) {
        return weights.withByteOffset(s.offset());
    }

    /** y = W x for T rows: matvec for up to 8 tokens per launch, the tiled matmul beyond. */
    private void multiply(WeightMatrix m, CUdeviceptr in, CUdeviceptr out, int T) {
        WeightLayout.Slot s = layout.slot(m);
        if (LaunchGeometry.useMatvec(T)) {
            launch(
                    CudaKernels.matvec(m.type()),
                    LaunchGeometry.matvec(m.rows()),
                    CudaKernels.product(at(s), s.rowBytes(), in, out, m.rows(), m.cols(), T));
        } else {
            launch(
                    CudaKernels.matmul(m.type()),
                    LaunchGeometry.matmul(m.rows(), T),
                    CudaKernels.product(at(s), s.rowBytes(), in, out, m.rows(), m.cols(), T));
        }
    }

    private void rmsNorm(CUdeviceptr in, CUdeviceptr weight, CUdeviceptr out, int nRows, int n) {
        launch(CudaKernels.RMSNORM, LaunchGeometry.perRow(nRows), CudaKernels.rmsNorm(in, weight, out, n, c.rmsEps()));
    }

    private void addBias(CUdeviceptr vec, CUdeviceptr bias, int n, long total) {
        launch(CudaKernels.ADD_BIAS, LaunchGeometry.elementwise(total), CudaKernels.addBias(vec, bias, n, total));
    }

    private void add(CUdeviceptr a, CUdeviceptr b, long n) {
        launch(CudaKernels.ADD, LaunchGeometry.elementwise(n), CudaKernels.add(a, b, n));
    }

    private void launch(String fn, LaunchGeometry g, KernelArgs args) {
        cuLaunchKernel(functions.get(fn), g.gridX(), g.gridY(), 1, g.block(), 1, 1, 0, stream, args.pointer(), null);
    }

    /** The pool's copy-on-write of a shared block, on the stream (ordered with the passes around it). */
    @Override
    public void copyBlock(int group, int from, int to) {
        long bytes = kv.groupBlockFloats()[group] * 2L;
        cuCtxPushCurrent(ctx);
        try {
            cuMemcpyDtoDAsync(
                    arenas[group].withByteOffset(to * bytes),
                    arenas[group].withByteOffset(from * bytes),
                    bytes,
                    stream);
        } finally {
            cuCtxPopCurrent(new CUcontext());
        }
    }

    @Override
    public String description() {
        return description;
    }

    @Override
    public int device() {
        return device;
    }

    @Override
    public long weightBytes() {
        return layout.totalBytes();
    }

    @Override
    public long kvBytes() {
        return kvBytes;
    }

    @Override
    public void close() {
        // Destroying the context frees every allocation, module and stream made in it.
        cuCtxDestroy(ctx);
    }

    /** The GGML type's kernel suffix, e.g. {@code q4_k}. */
    static String suffix(GgmlType t) {
        return t.name().toLowerCase(Locale.ROOT);
    }
}
