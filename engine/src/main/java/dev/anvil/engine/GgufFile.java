package dev.anvil.engine;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A GGUF (v2/v3) model file mapped into memory. The header (metadata and tensor directory) is parsed
 * eagerly; tensor data stays in the mapping and is never copied onto the Java heap.
 *
 * <p>Metadata values are boxed scalars ({@code Integer} for 8/16/32-bit integers, {@code Long} for 64-bit,
 * {@code Float}, {@code Double}, {@code Boolean}, {@code String}) or typed arrays ({@code int[]},
 * {@code long[]}, {@code float[]}, {@code double[]}, {@code boolean[]}, {@code String[]}, {@code Object[]}
 * for nested arrays).
 */
public final class GgufFile implements AutoCloseable {

    /** The first four bytes of every GGUF file, "GGUF", read as a little-endian int32. */
    public static final int MAGIC = 0x46554747;

    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfDouble F64 =
            ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** One tensor of the directory; {@code shape[0]} is the innermost (contiguous) dimension, as in GGML. */
    public record Tensor(String name, GgmlType type, long[] shape, long offset, MemorySegment data) {
        public long elementCount() {
            long n = 1;
            for (long d : shape) n *= d;
            return n;
        }
    }

    /**
     * Bounds on what a header may make this reader allocate, far above any real model (the largest vocabularies have
     * ~256K tokens and ~1M merges; headers are a few tens of megabytes): header bytes (metadata and tensor directory),
     * one string, the elements of one array, and arrays nested in arrays. Every count and length is also checked
     * against the header bytes that remain before anything is allocated for it, so a corrupt or hostile header is
     * refused with {@link UnsupportedModelException} instead of exhausting the heap.
     */
    static final long MAX_HEADER_BYTES = 64L << 20;

    static final int MAX_STRING_BYTES = 16 << 20;
    static final int MAX_ARRAY_ELEMENTS = 1 << 22;
    static final int MAX_ARRAY_NESTING = 4;
    static final long MAX_ALIGNMENT = 1 << 16;

    private final Path path;
    private final Arena arena;
    private final MemorySegment file;
    private final int version;
    private final Map<String, Object> metadata;
    private final Map<String, Tensor> tensors;
    private final long dataOffset;

    private long pos;
    /** End of the bytes the header may occupy: the file, or {@link #MAX_HEADER_BYTES}. */
    private final long headerEnd;

    private GgufFile(Path path, Arena arena, MemorySegment file) {
        this.path = path;
        this.arena = arena;
        this.file = file;
        this.headerEnd = Math.min(file.byteSize(), MAX_HEADER_BYTES);
        try {
            if (file.byteSize() < 24 || file.get(I32, 0) != MAGIC) {
                throw new UnsupportedModelException(path + ": not a GGUF file (bad magic)");
            }
            version = file.get(I32, 4);
            if (version != 2 && version != 3) {
                throw new UnsupportedModelException(
                        path + ": GGUF version " + version + " is not supported (2 and 3 are)");
            }
            long tensorCount = file.get(I64, 8);
            long kvCount = file.get(I64, 16);
            pos = 24;
            // Smallest possible entries: a key/value is a string length, a type and one byte; a tensor a name length,
            // a dimension count, one dimension, a type and an offset.
            if (tensorCount < 0
                    || kvCount < 0
                    || kvCount > remaining() / 13
                    || tensorCount > remaining() / 32
                    || kvCount * 13 + tensorCount * 32 > remaining()) {
                throw new UnsupportedModelException(path + ": implausible GGUF header (" + tensorCount + " tensors, "
                        + kvCount + " metadata keys in a header of at most " + remaining() + " bytes)");
            }
            Map<String, Object> md = new LinkedHashMap<>();
            for (long i = 0; i < kvCount; i++) {
                String key = readString();
                int type = readI32();
                if (md.put(key, readValue(type, 0)) != null) {
                    throw new UnsupportedModelException(path + ": metadata key " + key + " appears twice");
                }
            }
            metadata = Collections.unmodifiableMap(md);

            record Info(String name, GgmlType type, long[] shape, long offset) {}
            if (tensorCount > remaining() / 32) {
                throw new UnsupportedModelException(
                        path + ": " + tensorCount + " tensors do not fit in the " + remaining() + " header bytes left");
            }
            Info[] infos = new Info[(int) tensorCount];
            java.util.Set<String> names = new java.util.HashSet<>();
            for (int i = 0; i < tensorCount; i++) {
                String name = readString();
                if (!names.add(name)) throw new UnsupportedModelException(path + ": tensor " + name + " appears twice");
                int nDims = readI32();
                if (nDims < 1 || nDims > 4)
                    throw new UnsupportedModelException(path + ": tensor " + name + " has " + nDims + " dimensions");
                long[] shape = new long[nDims];
                for (int d = 0; d < nDims; d++) {
                    shape[d] = readI64();
                    if (shape[d] <= 0)
                        throw new UnsupportedModelException(path + ": tensor " + name + " has dimension " + shape[d]);
                }
                int typeId = readI32();
                GgmlType type;
                try {
                    type = GgmlType.fromId(typeId);
                } catch (UnsupportedModelException e) {
                    throw new UnsupportedModelException(path + ": tensor " + name + ": " + e.getMessage());
                }
                long offset = readI64();
                infos[i] = new Info(name, type, shape, offset);
            }
            long alignment = 32;
            if (metadata.containsKey("general.alignment")) {
                alignment = metadata.get("general.alignment") instanceof Number n ? n.longValue() : -1;
                if (alignment <= 0 || alignment > MAX_ALIGNMENT || (alignment & (alignment - 1)) != 0) {
                    throw new UnsupportedModelException(path + ": general.alignment "
                            + metadata.get("general.alignment") + " is not a power of two up to " + MAX_ALIGNMENT);
                }
            }
            dataOffset = (pos + alignment - 1) / alignment * alignment;

            Map<String, Tensor> ts = new LinkedHashMap<>();
            for (Info info : infos) {
                long elements = 1;
                for (long d : info.shape) {
                    if (d > Long.MAX_VALUE / elements) {
                        throw new UnsupportedModelException(path + ": tensor " + info.name + " has an impossible shape "
                                + java.util.Arrays.toString(info.shape));
                    }
                    elements *= d;
                }
                if (elements % info.type.blockSize != 0 || info.shape[0] % info.type.blockSize != 0) {
                    throw new UnsupportedModelException(path + ": tensor " + info.name + ": row length " + info.shape[0]
                            + " is not a multiple of the " + info.type + " block size " + info.type.blockSize);
                }
                long bytes = elements / info.type.blockSize * info.type.typeSize;
                if (elements / info.type.blockSize > Long.MAX_VALUE / info.type.typeSize
                        || info.offset < 0
                        || info.offset > file.byteSize() - dataOffset
                        || bytes > file.byteSize() - dataOffset - info.offset) {
                    throw new UnsupportedModelException(
                            path + ": tensor " + info.name + " lies outside the file (truncated download?)");
                }
                long start = dataOffset + info.offset;
                ts.put(
                        info.name,
                        new Tensor(info.name, info.type, info.shape, info.offset, file.asSlice(start, bytes)));
            }
            tensors = Collections.unmodifiableMap(ts);
        } catch (IndexOutOfBoundsException e) {
            throw new UnsupportedModelException(path + ": GGUF header is truncated or corrupt", e);
        }
    }

    /** Header bytes left to read. */
    private long remaining() {
        return headerEnd - pos;
    }

    /** Refuses a read of {@code bytes} more header bytes than there are. */
    private void need(long bytes, String what) {
        if (bytes < 0 || bytes > remaining()) {
            throw new UnsupportedModelException(path + ": " + what + " needs " + bytes + " bytes but the header has "
                    + Math.max(0, remaining()) + " left (truncated or corrupt)");
        }
    }

    /**
     * Whether {@code path} starts with the GGUF magic: how a GGUF file is told apart from a llama2.c checkpoint, which
     * has no magic number. Says nothing about whether the rest of the file is valid; {@link #open} checks that.
     */
    public static boolean hasMagic(Path path) throws IOException {
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            ByteBuffer magic = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
            while (magic.hasRemaining() && ch.read(magic) >= 0) {
                // keep reading until four bytes are in or the file ends
            }
            return !magic.hasRemaining() && magic.getInt(0) == MAGIC;
        }
    }

    /**
     * Maps the file read-only. The mapping lives until {@link #close()}; when the file is refused, it is unmapped
     * before this returns, whatever went wrong.
     *
     * @throws UnsupportedModelException when the file is not a GGUF file this reader accepts, with the reason
     */
    public static GgufFile open(Path path) throws IOException {
        Arena arena = Arena.ofShared();
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            MemorySegment seg = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
            return new GgufFile(path, arena, seg);
        } catch (UnsupportedModelException | IOException e) {
            arena.close();
            throw e;
        } catch (RuntimeException | OutOfMemoryError | StackOverflowError e) {
            // Not expected after the checks above; still a refusal of the file rather than a crash of the caller.
            arena.close();
            throw new UnsupportedModelException(path + ": GGUF header cannot be read (" + e + ")", e);
        } catch (Error e) {
            arena.close();
            throw e;
        }
    }

    public Path path() {
        return path;
    }

    public int version() {
        return version;
    }

    public Map<String, Object> metadata() {
        return metadata;
    }

    public Map<String, Tensor> tensors() {
        return tensors;
    }

    public long dataOffset() {
        return dataOffset;
    }

    public MemorySegment segment() {
        return file;
    }

    public Tensor tensor(String name) {
        Tensor t = tensors.get(name);
        if (t == null) throw new UnsupportedModelException(path + ": required tensor " + name + " is missing");
        return t;
    }

    public boolean has(String key) {
        return metadata.containsKey(key);
    }

    public String getString(String key) {
        Object v = metadata.get(key);
        if (v == null) throw new UnsupportedModelException(path + ": required metadata key " + key + " is missing");
        if (!(v instanceof String s))
            throw new UnsupportedModelException(path + ": metadata key " + key + " is not a string");
        return s;
    }

    public String getString(String key, String fallback) {
        return metadata.get(key) instanceof String s ? s : fallback;
    }

    public int getInt(String key) {
        Object v = metadata.get(key);
        if (!(v instanceof Number n))
            throw new UnsupportedModelException(path + ": required integer metadata key " + key + " is missing");
        return n.intValue();
    }

    public int getInt(String key, int fallback) {
        return metadata.get(key) instanceof Number n ? n.intValue() : fallback;
    }

    public float getFloat(String key, float fallback) {
        return metadata.get(key) instanceof Number n ? n.floatValue() : fallback;
    }

    public boolean getBoolean(String key, boolean fallback) {
        return metadata.get(key) instanceof Boolean b ? b : fallback;
    }

    public String[] getStringArray(String key) {
        return metadata.get(key) instanceof String[] a ? a : null;
    }

    public float[] getFloatArray(String key) {
        return metadata.get(key) instanceof float[] a ? a : null;
    }

    public int[] getIntArray(String key) {
        return metadata.get(key) instanceof int[] a ? a : null;
    }

    @Override
    public void close() {
        arena.close();
    }

    // --- header parsing -------------------------------------------------------------------------

    private int readI32() {
        need(4, "a 32-bit value");
        int v = file.get(I32, pos);
        pos += 4;
        return v;
    }

    private long readI64() {
        need(8, "a 64-bit value");
        long v = file.get(I64, pos);
        pos += 8;
        return v;
    }

    private String readString() {
        long len = readI64();
        if (len < 0 || len > MAX_STRING_BYTES || len > remaining()) {
            throw new UnsupportedModelException(path + ": corrupt string of length " + len + " in GGUF header ("
                    + Math.max(0, remaining()) + " header bytes left, strings up to " + MAX_STRING_BYTES + " bytes)");
        }
        byte[] bytes = file.asSlice(pos, len).toArray(ValueLayout.JAVA_BYTE);
        pos += len;
        return new String(bytes, StandardCharsets.UTF_8);
    }

    /** Bytes a value of {@code type} takes at least (a string: its length; an array: element type and count). */
    private long minimumBytes(int type) {
        return switch (type) {
            case 0, 1, 7 -> 1;
            case 2, 3 -> 2;
            case 4, 5, 6 -> 4;
            case 8, 10, 11, 12 -> 8;
            case 9 -> 12;
            default -> throw new UnsupportedModelException(path + ": unknown GGUF metadata value type " + type);
        };
    }

    private Object readValue(int type, int depth) {
        need(minimumBytes(type), "a metadata value");
        return switch (type) {
            case 0 -> {
                int v = Byte.toUnsignedInt(file.get(ValueLayout.JAVA_BYTE, pos));
                pos += 1;
                yield v;
            }
            case 1 -> {
                int v = file.get(ValueLayout.JAVA_BYTE, pos);
                pos += 1;
                yield v;
            }
            case 2 -> {
                int v = Short.toUnsignedInt(file.get(I16, pos));
                pos += 2;
                yield v;
            }
            case 3 -> {
                int v = file.get(I16, pos);
                pos += 2;
                yield v;
            }
            case 4, 5 -> readI32();
            case 6 -> {
                float v = file.get(F32, pos);
                pos += 4;
                yield v;
            }
            case 7 -> {
                boolean v = file.get(ValueLayout.JAVA_BYTE, pos) != 0;
                pos += 1;
                yield v;
            }
            case 8 -> readString();
            case 9 -> readArray(depth + 1);
            case 10, 11 -> readI64();
            case 12 -> {
                double v = file.get(F64, pos);
                pos += 8;
                yield v;
            }
            default -> throw new UnsupportedModelException(path + ": unknown GGUF metadata value type " + type);
        };
    }

    private Object readArray(int depth) {
        if (depth > MAX_ARRAY_NESTING) {
            throw new UnsupportedModelException(path + ": metadata arrays nested deeper than " + MAX_ARRAY_NESTING);
        }
        int elemType = readI32();
        long count = readI64();
        long each = minimumBytes(elemType); // also refuses unknown element types before anything is allocated
        if (count < 0 || count > MAX_ARRAY_ELEMENTS || count > remaining() / each) {
            throw new UnsupportedModelException(
                    path + ": corrupt array length " + count + " (" + Math.max(0, remaining())
                            + " header bytes left, arrays up to " + MAX_ARRAY_ELEMENTS + " elements)");
        }
        int n = (int) count;
        switch (elemType) {
            case 0, 1, 2, 3, 4, 5 -> {
                int[] a = new int[n];
                for (int i = 0; i < n; i++) a[i] = (Integer) readValue(elemType, depth);
                return a;
            }
            case 6 -> {
                float[] a = new float[n];
                for (int i = 0; i < n; i++) {
                    a[i] = file.get(F32, pos);
                    pos += 4;
                }
                return a;
            }
            case 7 -> {
                boolean[] a = new boolean[n];
                for (int i = 0; i < n; i++) a[i] = (Boolean) readValue(7, depth);
                return a;
            }
            case 8 -> {
                String[] a = new String[n];
                for (int i = 0; i < n; i++) a[i] = readString();
                return a;
            }
            case 10, 11 -> {
                long[] a = new long[n];
                for (int i = 0; i < n; i++) a[i] = readI64();
                return a;
            }
            case 12 -> {
                double[] a = new double[n];
                for (int i = 0; i < n; i++) {
                    a[i] = file.get(F64, pos);
                    pos += 8;
                }
                return a;
            }
            case 9 -> {
                Object[] a = new Object[n];
                for (int i = 0; i < n; i++) a[i] = readArray(depth + 1);
                return a;
            }
            default -> throw new UnsupportedModelException(path + ": unknown GGUF array element type " + elemType);
        }
    }
}
