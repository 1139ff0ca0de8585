package dev.anvil.engine.cuda;

import static jcuda.driver.JCudaDriver.*;

import dev.anvil.engine.Accelerator;
import dev.anvil.engine.DeviceBackend;
import dev.anvil.engine.KvCachePool;
import dev.anvil.engine.LlamaModel;
import java.util.ArrayList;
import java.util.List;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdevice_attribute;
import jcuda.driver.JCudaDriver;

/**
 * NVIDIA GPUs through JCuda's binding of the CUDA driver API (no CUDA runtime, no cuBLAS: the driver JIT-compiles
 * the PTX of src/main/cuda for whatever GPU is present, so any driver from CUDA 12 on runs it). Registered for
 * {@link java.util.ServiceLoader} in META-INF/services.
 *
 * <p>{@link #probe} never throws: on a machine without a driver JCuda's native library fails to load (it links
 * libcuda) or {@code cuInit} fails, and the probe says which, so that {@code anvil.serving.device=auto} can log why
 * it chose the CPU.
 */
public final class CudaAccelerator implements Accelerator {

    @Override
    public String name() {
        return "cuda";
    }

    @Override
    public Probe probe() {
        try {
            JCudaDriver.setExceptionsEnabled(true);
            cuInit(0);
        } catch (LinkageError e) {
            return new Probe(
                    List.of(),
                    "JCuda's native library did not load (no CUDA driver on this machine?): " + e.getMessage());
        } catch (RuntimeException e) {
            return new Probe(List.of(), "cuInit failed: " + e.getMessage());
        }
        try {
            int[] count = new int[1];
            cuDeviceGetCount(count);
            if (count[0] == 0) return new Probe(List.of(), "the CUDA driver reports no device");
            List<Device> devices = new ArrayList<>();
            for (int i = 0; i < count[0]; i++) devices.add(describe(i));
            return new Probe(devices, null);
        } catch (RuntimeException e) {
            return new Probe(List.of(), "CUDA device query failed: " + e.getMessage());
        }
    }

    /** Name, compute capability and memory of device {@code ordinal} (free memory needs a context: the primary one). */
    static Device describe(int ordinal) {
        CUdevice dev = new CUdevice();
        cuDeviceGet(dev, ordinal);
        byte[] name = new byte[256];
        cuDeviceGetName(name, name.length, dev);
        int[] major = new int[1], minor = new int[1];
        cuDeviceGetAttribute(major, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev);
        cuDeviceGetAttribute(minor, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev);
        CUcontext ctx = new CUcontext();
        cuDevicePrimaryCtxRetain(ctx, dev);
        long[] free = new long[1], total = new long[1];
        try {
            cuCtxPushCurrent(ctx);
            cuMemGetInfo(free, total);
            cuCtxPopCurrent(new CUcontext());
        } finally {
            cuDevicePrimaryCtxRelease(dev);
        }
        int len = 0;
        while (len < name.length && name[len] != 0) len++;
        return new Device(
                ordinal,
                new String(name, 0, len, java.nio.charset.StandardCharsets.US_ASCII),
                major[0],
                minor[0],
                total[0],
                free[0]);
    }

    @Override
    public long bytesNeeded(LlamaModel model, KvCachePool pool) {
        return CudaModel.bytesNeeded(model, pool);
    }

    @Override
    public DeviceBackend open(LlamaModel model, int device, KvCachePool pool) {
        return new CudaModel(model, device, pool);
    }
}
