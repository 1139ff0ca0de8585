package dev.anvil.engine.cuda;

import static org.junit.jupiter.api.Assertions.*;

import dev.anvil.engine.GgmlType;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import jcuda.driver.CUdeviceptr;
import org.junit.jupiter.api.Test;

/**
 * What the host packs for each launch against what the kernels declare, read from the PTX the build put on the class
 * path: a parameter of the wrong width would make the kernel read garbage, and no CPU test would notice.
 */
class KernelArgsTest {

    private static final Pattern ENTRY = Pattern.compile("\\.visible \\.entry (\\w+)\\(([^)]*)\\)");
    private static final Pattern PARAM = Pattern.compile("\\.param \\.(\\w+)");

    /** Entry name to its parameter types, from every module's PTX. */
    static Map<String, List<String>> signatures() throws IOException {
        Map<String, List<String>> all = new HashMap<>();
        for (String module : List.of("matvec", "matmul", "layers", "attention")) {
            String ptx;
            try (InputStream in = CudaModel.class.getResourceAsStream(module + ".ptx")) {
                assertNotNull(in, module + ".ptx is on the class path");
                ptx = new String(in.readAllBytes(), StandardCharsets.US_ASCII);
            }
            Matcher m = ENTRY.matcher(ptx);
            while (m.find()) {
                List<String> types = new ArrayList<>();
                Matcher p = PARAM.matcher(m.group(2));
                while (p.find()) types.add(p.group(1).replace("s64", "u64").replace("s32", "u32"));
                assertNull(all.put(m.group(1), types), m.group(1) + " defined twice");
                assertEquals(module, CudaKernels.moduleOf(m.group(1)), m.group(1) + "'s module");
            }
        }
        return all;
    }

    @Test
    void everyLaunchMatchesItsKernelsSignature() throws IOException {
        Map<String, List<String>> sig = signatures();
        for (String fn : CudaKernels.ALL) assertTrue(sig.containsKey(fn), fn + " is in the PTX");
        CUdeviceptr p = new CUdeviceptr();
        for (GgmlType t : WeightLayout.SUPPORTED) {
            assertEquals(
                    sig.get(CudaKernels.matvec(t)),
                    CudaKernels.product(p, 1, p, p, 1, 8, 1).ptxTypes());
            assertEquals(
                    sig.get(CudaKernels.matmul(t)),
                    CudaKernels.product(p, 1, p, p, 1, 8, 1).ptxTypes());
            assertEquals(
                    sig.get(CudaKernels.embed(t)),
                    CudaKernels.embedArgs(p, 1, p, p, 8, 1f).ptxTypes());
        }
        assertEquals(
                sig.get(CudaKernels.RMSNORM),
                CudaKernels.rmsNorm(p, p, p, 1, 1e-5f).ptxTypes());
        assertEquals(
                sig.get(CudaKernels.ADD_BIAS), CudaKernels.addBias(p, p, 1, 1).ptxTypes());
        assertEquals(
                sig.get(CudaKernels.ROPE),
                CudaKernels.rope(p, p, p, 1, 64, 64, true).ptxTypes());
        assertEquals(
                sig.get(CudaKernels.KV_STORE),
                CudaKernels.kvStore(p, p, p, p, p, 32, 0, 1).ptxTypes());
        assertEquals(
                sig.get(CudaKernels.ATTENTION),
                CudaKernels.attention(p, p, p, p, p, p, 8, 4, 64, 256, 0, 1, 0, 1f, 0.125f, 0f)
                        .ptxTypes());
        assertEquals(sig.get(CudaKernels.GATE), CudaKernels.gate(p, p, 1, false).ptxTypes());
        assertEquals(sig.get(CudaKernels.ADD), CudaKernels.add(p, p, 1).ptxTypes());
        assertEquals(
                sig.get(CudaKernels.SOFTCAP), CudaKernels.softcap(p, 1, 30f).ptxTypes());
        assertEquals(
                sig.get(CudaKernels.GATHER_ROWS),
                CudaKernels.gatherRows(p, p, p, 8).ptxTypes());
        assertEquals(sig.keySet().size(), CudaKernels.ALL.size(), "every kernel in the PTX is launched");
    }

    @Test
    void unsupportedEncodingsHaveNoKernel() {
        assertThrows(IllegalArgumentException.class, () -> CudaKernels.matvec(GgmlType.Q4_1));
        assertEquals("anvil_matvec_q4_k", CudaKernels.matvec(GgmlType.Q4_K));
    }
}
