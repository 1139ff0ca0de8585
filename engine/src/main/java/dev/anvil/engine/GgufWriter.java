package dev.anvil.engine;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Writes a GGUF v3 file as a stream, so that multi-gigabyte models never sit on the heap.
 *
 * <p>Use in three phases: declare metadata ({@code put*}) and tensors ({@link #addTensor}), then stream each
 * tensor's bytes in declaration order ({@link #beginTensor}, {@link #write}, or {@link #writeTensor} for a
 * whole float array), then {@link #close()}. Offsets in the tensor directory are computed from the declared
 * shapes and types, which is why every tensor must be declared before the first byte of data. Tensor data
 * is aligned to {@code general.alignment} (32 unless set), the padding written as zeros.
 *
 * <p>Shapes are GGML order: {@code shape[0]} is the contiguous dimension, so a weight producing {@code rows}
 * outputs from {@code cols} inputs is {@code addTensor(name, type, cols, rows)}.
 */
public final class GgufWriter implements AutoCloseable {

    // GGUF metadata value type codes.
    private static final int T_UINT8 = 0,
            T_INT8 = 1,
            T_UINT16 = 2,
            T_INT16 = 3,
            T_UINT32 = 4,
            T_INT32 = 5,
            T_FLOAT32 = 6,
            T_BOOL = 7,
            T_STRING = 8,
            T_ARRAY = 9,
            T_UINT64 = 10,
            T_INT64 = 11,
            T_FLOAT64 = 12;

    private record Entry(int type, Object value, int elementType) {}

    private record TensorInfo(String name, GgmlType type, long[] shape, long bytes, long offset) {}

    private final Path path;
    private final OutputStream out;
    private final Map<String, Entry> metadata = new LinkedHashMap<>();
    private final List<TensorInfo> tensors = new ArrayList<>();
    private final Map<String, Integer> tensorIndex = new LinkedHashMap<>();
    private long dataBytes;
    private boolean headerWritten;
    private int current = -1;
    private long currentWritten;
    private long position;
    private boolean closed;

    public GgufWriter(Path path) throws IOException {
        this.path = path;
        this.out = new BufferedOutputStream(Files.newOutputStream(path), 1 << 20);
    }

    public Path path() {
        return path;
    }

    // --- metadata -----------------------------------------------------------------------------------

    public GgufWriter putString(String key, String value) {
        return put(key, T_STRING, value, -1);
    }

    public GgufWriter putUInt8(String key, int value) {
        return put(key, T_UINT8, value, -1);
    }

    public GgufWriter putInt8(String key, int value) {
        return put(key, T_INT8, value, -1);
    }

    public GgufWriter putUInt16(String key, int value) {
        return put(key, T_UINT16, value, -1);
    }

    public GgufWriter putInt16(String key, int value) {
        return put(key, T_INT16, value, -1);
    }

    public GgufWriter putUInt32(String key, int value) {
        return put(key, T_UINT32, value, -1);
    }

    public GgufWriter putInt32(String key, int value) {
        return put(key, T_INT32, value, -1);
    }

    public GgufWriter putUInt64(String key, long value) {
        return put(key, T_UINT64, value, -1);
    }

    public GgufWriter putInt64(String key, long value) {
        return put(key, T_INT64, value, -1);
    }

    public GgufWriter putFloat32(String key, float value) {
        return put(key, T_FLOAT32, value, -1);
    }

    public GgufWriter putFloat64(String key, double value) {
        return put(key, T_FLOAT64, value, -1);
    }

    public GgufWriter putBool(String key, boolean value) {
        return put(key, T_BOOL, value, -1);
    }

    public GgufWriter putStringArray(String key, String[] values) {
        return put(key, T_ARRAY, values.clone(), T_STRING);
    }

    public GgufWriter putInt32Array(String key, int[] values) {
        return put(key, T_ARRAY, values.clone(), T_INT32);
    }

    public GgufWriter putFloat32Array(String key, float[] values) {
        return put(key, T_ARRAY, values.clone(), T_FLOAT32);
    }

    private GgufWriter put(String key, int type, Object value, int elementType) {
        if (headerWritten) throw new IllegalStateException("metadata " + key + " added after tensor data started");
        if (key == null || key.isEmpty()) throw new IllegalArgumentException("metadata key must not be empty");
        if (value == null) throw new IllegalArgumentException("metadata " + key + " has a null value");
        metadata.put(key, new Entry(type, value, elementType));
        return this;
    }

    private long alignment() {
        Entry e = metadata.get("general.alignment");
        if (e == null) return 32;
        long a = ((Number) e.value()).longValue();
        if (a <= 0 || (a & (a - 1)) != 0)
            throw new IllegalStateException("general.alignment must be a power of two, was " + a);
        return a;
    }

    // --- tensors ------------------------------------------------------------------------------------

    /** Declares a tensor; its data must later be streamed in declaration order. */
    public GgufWriter addTensor(String name, GgmlType type, long... shape) {
        if (headerWritten) throw new IllegalStateException("tensor " + name + " declared after tensor data started");
        if (tensorIndex.containsKey(name)) throw new IllegalArgumentException("tensor " + name + " declared twice");
        if (shape.length < 1 || shape.length > 4)
            throw new IllegalArgumentException("tensor " + name + " needs 1 to 4 dimensions");
        long elements = 1;
        for (long d : shape) {
            if (d <= 0) throw new IllegalArgumentException("tensor " + name + " has a non-positive dimension " + d);
            elements = Math.multiplyExact(elements, d);
        }
        if (shape[0] % type.blockSize != 0) {
            throw new IllegalArgumentException("tensor " + name + ": row length " + shape[0]
                    + " is not a multiple of the " + type + " block size " + type.blockSize);
        }
        long bytes = type.bytesFor(elements);
        long align = alignment();
        long offset = (dataBytes + align - 1) / align * align;
        tensorIndex.put(name, tensors.size());
        tensors.add(new TensorInfo(name, type, shape.clone(), bytes, offset));
        dataBytes = offset + bytes;
        return this;
    }

    /** Starts the data of {@code name}, which must be the next declared tensor whose data is due. */
    public void beginTensor(String name) throws IOException {
        ensureHeader();
        finishCurrent();
        int next = current + 1;
        if (next >= tensors.size())
            throw new IllegalStateException("all declared tensors have been written; " + name + " is extra");
        TensorInfo t = tensors.get(next);
        if (!t.name().equals(name)) {
            throw new IllegalStateException(
                    "tensor data must follow declaration order: expected " + t.name() + ", got " + name);
        }
        padTo(t.offset());
        current = next;
        currentWritten = 0;
    }

    /** Appends raw encoded bytes to the current tensor. */
    public void write(byte[] bytes, int off, int len) throws IOException {
        if (current < 0 || currentWritten < 0) throw new IllegalStateException("write without beginTensor");
        TensorInfo t = tensors.get(current);
        if (currentWritten + len > t.bytes()) {
            throw new IllegalStateException(
                    "tensor " + t.name() + " holds " + t.bytes() + " bytes; writing past its end");
        }
        out.write(bytes, off, len);
        currentWritten += len;
        position += len;
    }

    /** Encodes {@code values} (the tensor's next elements) with the tensor's declared type and appends them. */
    public void writeValues(float[] values, int off, int len) throws IOException {
        if (current < 0) throw new IllegalStateException("writeValues without beginTensor");
        GgmlType type = tensors.get(current).type();
        byte[] buf = new byte[Math.toIntExact(Quantizer.encodedSize(type, len))];
        Quantizer.quantize(type, values, off, len, buf, 0);
        write(buf, 0, buf.length);
    }

    /** Writes a whole tensor from floats, encoding them with its declared type. */
    public void writeTensor(String name, float[] values) throws IOException {
        beginTensor(name);
        writeValues(values, 0, values.length);
    }

    /** Writes a whole tensor from already encoded bytes. */
    public void writeTensor(String name, byte[] encoded) throws IOException {
        beginTensor(name);
        write(encoded, 0, encoded.length);
    }

    /**
     * Writes {@code target}: a copy of {@code source} (every metadata key in its order, every tensor) in which the keys
     * of {@code replaced} have the given values (a String, Integer, Long, Float, Double, Boolean, String[], int[] or
     * float[]), added at the end when the source lacks them. For test and tool files, e.g. a model with another chat
     * template.
     */
    public static Path copy(GgufFile source, Path target, Map<String, Object> replaced) throws IOException {
        try (GgufWriter out = new GgufWriter(target)) {
            Map<String, Object> values = new LinkedHashMap<>(source.metadata());
            values.putAll(replaced);
            for (Map.Entry<String, Object> e : values.entrySet()) {
                String k = e.getKey();
                switch (e.getValue()) {
                    case String v -> out.putString(k, v);
                    case Integer v -> out.putInt32(k, v);
                    case Long v -> out.putInt64(k, v);
                    case Float v -> out.putFloat32(k, v);
                    case Double v -> out.putFloat64(k, v);
                    case Boolean v -> out.putBool(k, v);
                    case String[] v -> out.putStringArray(k, v);
                    case int[] v -> out.putInt32Array(k, v);
                    case float[] v -> out.putFloat32Array(k, v);
                    default ->
                        throw new IllegalArgumentException("cannot copy metadata " + k + " of type "
                                + e.getValue().getClass());
                }
            }
            for (GgufFile.Tensor t : source.tensors().values()) out.addTensor(t.name(), t.type(), t.shape());
            for (GgufFile.Tensor t : source.tensors().values()) {
                out.beginTensor(t.name());
                byte[] bytes = t.data().toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
                out.write(bytes, 0, bytes.length);
            }
        }
        return target;
    }

    /** Declared size in bytes of the tensor {@code name}. */
    public long tensorBytes(String name) {
        Integer i = tensorIndex.get(name);
        if (i == null) throw new IllegalArgumentException("no tensor " + name + " declared");
        return tensors.get(i).bytes();
    }

    /** Flushes and closes; fails if a declared tensor was not (completely) written. */
    @Override
    public void close() throws IOException {
        if (closed) return;
        closed = true;
        try {
            ensureHeader();
            finishCurrent();
            if (current != tensors.size() - 1) {
                throw new IllegalStateException("GGUF " + path + " closed with " + (tensors.size() - 1 - current)
                        + " declared tensor(s) unwritten, first "
                        + tensors.get(current + 1).name());
            }
        } finally {
            out.close();
        }
    }

    private void finishCurrent() {
        if (current < 0) return;
        TensorInfo t = tensors.get(current);
        if (currentWritten != t.bytes()) {
            throw new IllegalStateException(
                    "tensor " + t.name() + " got " + currentWritten + " of its " + t.bytes() + " bytes");
        }
    }

    private void padTo(long dataOffset) throws IOException {
        long target = headerEnd + dataOffset;
        while (position < target) {
            out.write(0);
            position++;
        }
    }

    // --- header -------------------------------------------------------------------------------------

    private long headerEnd;

    private void ensureHeader() throws IOException {
        if (headerWritten) return;
        headerWritten = true;
        writeI32(GgufFile.MAGIC);
        writeI32(3);
        writeI64(tensors.size());
        writeI64(metadata.size());
        for (Map.Entry<String, Entry> e : metadata.entrySet()) {
            writeString(e.getKey());
            Entry v = e.getValue();
            writeI32(v.type());
            writeValue(v.type(), v.value(), v.elementType());
        }
        for (TensorInfo t : tensors) {
            writeString(t.name());
            writeI32(t.shape().length);
            for (long d : t.shape()) writeI64(d);
            writeI32(t.type().id);
            writeI64(t.offset());
        }
        long align = alignment();
        long aligned = (position + align - 1) / align * align;
        while (position < aligned) {
            out.write(0);
            position++;
        }
        headerEnd = position;
    }

    private void writeValue(int type, Object v, int elementType) throws IOException {
        switch (type) {
            case T_UINT8, T_INT8 -> writeByte(((Number) v).intValue());
            case T_UINT16, T_INT16 -> {
                int s = ((Number) v).intValue();
                writeByte(s);
                writeByte(s >> 8);
            }
            case T_UINT32, T_INT32 -> writeI32(((Number) v).intValue());
            case T_UINT64, T_INT64 -> writeI64(((Number) v).longValue());
            case T_FLOAT32 -> writeI32(Float.floatToRawIntBits(((Number) v).floatValue()));
            case T_FLOAT64 -> writeI64(Double.doubleToRawLongBits(((Number) v).doubleValue()));
            case T_BOOL -> writeByte((Boolean) v ? 1 : 0);
            case T_STRING -> writeString((String) v);
            case T_ARRAY -> {
                writeI32(elementType);
                switch (elementType) {
                    case T_STRING -> {
                        String[] a = (String[]) v;
                        writeI64(a.length);
                        for (String s : a) writeString(s);
                    }
                    case T_INT32 -> {
                        int[] a = (int[]) v;
                        writeI64(a.length);
                        for (int x : a) writeI32(x);
                    }
                    case T_FLOAT32 -> {
                        float[] a = (float[]) v;
                        writeI64(a.length);
                        for (float x : a) writeI32(Float.floatToRawIntBits(x));
                    }
                    default -> throw new IllegalStateException("array element type " + elementType);
                }
            }
            default -> throw new IllegalStateException("metadata type " + type);
        }
    }

    private void writeString(String s) throws IOException {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        writeI64(b.length);
        out.write(b);
        position += b.length;
    }

    private void writeByte(int v) throws IOException {
        out.write(v);
        position++;
    }

    private void writeI32(int v) throws IOException {
        out.write(v);
        out.write(v >> 8);
        out.write(v >> 16);
        out.write(v >> 24);
        position += 4;
    }

    private void writeI64(long v) throws IOException {
        writeI32((int) v);
        writeI32((int) (v >>> 32));
    }
}
