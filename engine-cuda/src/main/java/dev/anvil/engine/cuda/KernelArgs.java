package dev.anvil.engine.cuda;

import java.util.ArrayList;
import java.util.List;
import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;

/**
 * The parameters of one kernel launch, in the order of the kernel's signature, each with the PTX type it must have
 * ({@code .u64} pointers and {@code long long}, {@code .u32} ints, {@code .f32} floats): cuLaunchKernel takes an
 * array of pointers to the values and trusts it, so a host that passes an int where the kernel reads a 64-bit
 * value reads garbage on the device. {@link #ptxTypes} is what KernelArgsTest compares with the committed PTX.
 */
final class KernelArgs {

    private final List<Pointer> values = new ArrayList<>();
    private final List<String> types = new ArrayList<>();

    KernelArgs ptr(CUdeviceptr p) {
        values.add(Pointer.to(p));
        types.add("u64");
        return this;
    }

    KernelArgs i64(long v) {
        values.add(Pointer.to(new long[] {v}));
        types.add("u64");
        return this;
    }

    KernelArgs i32(int v) {
        values.add(Pointer.to(new int[] {v}));
        types.add("u32");
        return this;
    }

    KernelArgs f32(float v) {
        values.add(Pointer.to(new float[] {v}));
        types.add("f32");
        return this;
    }

    /** The kernelParams argument of cuLaunchKernel. */
    Pointer pointer() {
        return Pointer.to(values.toArray(new Pointer[0]));
    }

    /** Per parameter, its PTX parameter type ({@code u64}, {@code u32}, {@code f32}). */
    List<String> ptxTypes() {
        return List.copyOf(types);
    }
}
