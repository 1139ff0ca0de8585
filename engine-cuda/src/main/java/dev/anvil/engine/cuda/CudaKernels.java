package dev.anvil.engine.cuda;

import dev.anvil.engine.GgmlType;
import java.util.ArrayList;
import java.util.List;
import jcuda.driver.CUdeviceptr;

/** The kernels' entry-point names (extern "C" in src/main/cuda) and the module (.cu file) each is compiled into. */
final class CudaKernels {

    static final String RMSNORM = "anvil_rmsnorm",
            ADD_BIAS = "anvil_add_bias",
            ROPE = "anvil_rope",
            KV_STORE = "anvil_kv_store",
            GATE = "anvil_gate",
            ADD = "anvil_add",
            SOFTCAP = "anvil_softcap",
            GATHER_ROWS = "anvil_gather_rows",
            ATTENTION = "anvil_attention";

    /** Every entry point the host launches. */
    static final List<String> ALL = all();

    private CudaKernels() {}

    static String matvec(GgmlType t) {
        return "anvil_matvec_" + CudaModel.suffix(checked(t));
    }

    static String matmul(GgmlType t) {
        return "anvil_matmul_" + CudaModel.suffix(checked(t));
    }

    static String embed(GgmlType t) {
        return "anvil_embed_" + CudaModel.suffix(checked(t));
    }

    private static GgmlType checked(GgmlType t) {
        if (!WeightLayout.SUPPORTED.contains(t)) throw new IllegalArgumentException("no CUDA kernel decodes " + t);
        return t;
    }

    static String moduleOf(String fn) {
        if (fn.startsWith("anvil_matvec_") || fn.startsWith("anvil_embed_")) return "matvec";
        if (fn.startsWith("anvil_matmul_")) return "matmul";
        if (fn.equals(ATTENTION)) return "attention";
        return "layers";
    }

    // The parameters of each kernel, in its signature's order and types (KernelArgsTest checks them against the PTX).

    /** anvil_matvec_* and anvil_matmul_*: (w, rowBytes, x, y, rows, cols, tokens). */
    static KernelArgs product(CUdeviceptr w, long rowBytes, CUdeviceptr x, CUdeviceptr y, int rows, int cols, int T) {
        return new KernelArgs()
                .ptr(w)
                .i64(rowBytes)
                .ptr(x)
                .ptr(y)
                .i32(rows)
                .i32(cols)
                .i32(T);
    }

    /** anvil_embed_*: (table, rowBytes, tokens, out, cols, scale). */
    static KernelArgs embedArgs(CUdeviceptr e, long rowBytes, CUdeviceptr tokens, CUdeviceptr out, int cols, float s) {
        return new KernelArgs()
                .ptr(e)
                .i64(rowBytes)
                .ptr(tokens)
                .ptr(out)
                .i32(cols)
                .f32(s);
    }

    static KernelArgs rmsNorm(CUdeviceptr x, CUdeviceptr w, CUdeviceptr out, int n, float eps) {
        return new KernelArgs().ptr(x).ptr(w).ptr(out).i32(n).f32(eps);
    }

    static KernelArgs addBias(CUdeviceptr x, CUdeviceptr bias, int n, long total) {
        return new KernelArgs().ptr(x).ptr(bias).i32(n).i64(total);
    }

    static KernelArgs rope(
            CUdeviceptr v, CUdeviceptr pos, CUdeviceptr freq, int heads, int hs, int ropeDim, boolean neox) {
        return new KernelArgs()
                .ptr(v)
                .ptr(pos)
                .ptr(freq)
                .i32(heads)
                .i32(hs)
                .i32(ropeDim)
                .i32(neox ? 1 : 0);
    }

    static KernelArgs kvStore(
            CUdeviceptr k,
            CUdeviceptr v,
            CUdeviceptr arena,
            CUdeviceptr blockOf,
            CUdeviceptr pos,
            int kvDim,
            int layerSlot,
            long blockHalfs) {
        return new KernelArgs()
                .ptr(k)
                .ptr(v)
                .ptr(arena)
                .ptr(blockOf)
                .ptr(pos)
                .i32(kvDim)
                .i32(layerSlot)
                .i64(blockHalfs);
    }

    static KernelArgs attention(
            CUdeviceptr q,
            CUdeviceptr out,
            CUdeviceptr arena,
            CUdeviceptr tables,
            CUdeviceptr tableStart,
            CUdeviceptr pos,
            int heads,
            int kvHeads,
            int hs,
            int kvDim,
            int layerSlot,
            long blockHalfs,
            int window,
            float queryScale,
            float scoreScale,
            float softcap) {
        return new KernelArgs()
                .ptr(q)
                .ptr(out)
                .ptr(arena)
                .ptr(tables)
                .ptr(tableStart)
                .ptr(pos)
                .i32(heads)
                .i32(kvHeads)
                .i32(hs)
                .i32(kvDim)
                .i32(layerSlot)
                .i64(blockHalfs)
                .i32(window)
                .f32(queryScale)
                .f32(scoreScale)
                .f32(softcap);
    }

    static KernelArgs gate(CUdeviceptr gate, CUdeviceptr up, long n, boolean gelu) {
        return new KernelArgs().ptr(gate).ptr(up).i64(n).i32(gelu ? 1 : 0);
    }

    static KernelArgs add(CUdeviceptr x, CUdeviceptr y, long n) {
        return new KernelArgs().ptr(x).ptr(y).i64(n);
    }

    static KernelArgs softcap(CUdeviceptr v, long n, float cap) {
        return new KernelArgs().ptr(v).i64(n).f32(cap);
    }

    static KernelArgs gatherRows(CUdeviceptr x, CUdeviceptr rows, CUdeviceptr out, int n) {
        return new KernelArgs().ptr(x).ptr(rows).ptr(out).i32(n);
    }

    private static List<String> all() {
        List<String> names =
                new ArrayList<>(List.of(RMSNORM, ADD_BIAS, ROPE, KV_STORE, GATE, ADD, SOFTCAP, GATHER_ROWS, ATTENTION));
        for (GgmlType t : WeightLayout.SUPPORTED) {
            names.add(matvec(t));
            names.add(matmul(t));
            names.add(embed(t));
        }
        return List.copyOf(names);
    }
}
