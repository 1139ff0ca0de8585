package dev.anvil.engine;

import static org.junit.jupiter.api.Assertions.*;

import java.util.List;
import org.junit.jupiter.api.Test;

/** Device choice, placement and the flattening of a batch for a device backend: the host-side logic, no device. */
class DeviceTest {

    static final ModelConfig SHAPE = KvCachePoolTest.SHAPE; // 5 layers, kvDim 32

    @Test
    void parsesTheFourForms() {
        assertEquals(DeviceChoice.AUTO, DeviceChoice.parse("auto"));
        assertEquals(DeviceChoice.CPU, DeviceChoice.parse(" CPU "));
        assertEquals(new DeviceChoice(DeviceChoice.Kind.CUDA, -1), DeviceChoice.parse("cuda"));
        assertEquals(new DeviceChoice(DeviceChoice.Kind.CUDA, 3), DeviceChoice.parse("cuda:3"));
        assertEquals("cuda:3", DeviceChoice.parse("cuda:3").toString());
        for (String bad : new String[] {"", "gpu", "cuda:", "cuda:-1", "cuda:x", "cuda:64", "cuda:0001", "cpu:0"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> DeviceChoice.parse(bad));
            assertTrue(e.getMessage().contains("auto, cpu, cuda, cuda:N"), e.getMessage());
        }
    }

    static final Accelerator.Device A = new Accelerator.Device(0, "GPU A", 9, 0, 80L << 30, 10L << 30);
    static final Accelerator.Device B = new Accelerator.Device(1, "GPU B", 9, 0, 80L << 30, 40L << 30);

    @Test
    void autoFallsBackToTheCpuAndSaysWhy() {
        var none = DevicePlacement.decide(DeviceChoice.AUTO, null, 1);
        assertTrue(none.cpu());
        assertTrue(none.reason().contains("no CUDA backend"), none.reason());
        var noDriver = DevicePlacement.decide(
                DeviceChoice.AUTO, new Accelerator.Probe(List.of(), "JCuda's native library did not load"), 1);
        assertTrue(noDriver.cpu());
        assertTrue(noDriver.reason().contains("native library did not load"), noDriver.reason());
        var tooBig = DevicePlacement.decide(DeviceChoice.AUTO, new Accelerator.Probe(List.of(A, B), null), 50L << 30);
        assertTrue(tooBig.cpu());
        assertTrue(tooBig.reason().contains("cuda:1 40960.0 MiB"), tooBig.reason());
        assertEquals(
                "cpu",
                DevicePlacement.decide(DeviceChoice.CPU, new Accelerator.Probe(List.of(A), null), 1)
                        .deviceName());
    }

    @Test
    void placesByFreeMemoryAndRefusesWhatDoesNotFit() {
        var probe = new Accelerator.Probe(List.of(A, B), null);
        assertEquals(
                1, DevicePlacement.decide(DeviceChoice.AUTO, probe, 5L << 30).device());
        assertEquals(
                1,
                DevicePlacement.decide(DeviceChoice.parse("cuda"), probe, 5L << 30)
                        .device());
        assertEquals(
                0,
                DevicePlacement.decide(DeviceChoice.parse("cuda:0"), probe, 5L << 30)
                        .device());
        var e = assertThrows(
                IllegalStateException.class,
                () -> DevicePlacement.decide(DeviceChoice.parse("cuda:0"), probe, 20L << 30));
        assertTrue(
                e.getMessage().contains("needs 20480.0 MiB") && e.getMessage().contains("cuda:0 10240.0 MiB"),
                e.getMessage());
        e = assertThrows(
                IllegalStateException.class, () -> DevicePlacement.decide(DeviceChoice.parse("cuda:2"), probe, 1));
        assertTrue(e.getMessage().contains("no device 2"), e.getMessage());
        e = assertThrows(
                IllegalStateException.class,
                () -> DevicePlacement.decide(
                        DeviceChoice.parse("cuda"), new Accelerator.Probe(List.of(), "cuInit failed"), 1));
        assertTrue(e.getMessage().contains("cuInit failed"), e.getMessage());
    }

    @Test
    void layoutAddressesWhatThePoolAddresses() {
        // Two groups: layers 1 and 3 slide over 32 positions.
        KvCachePool pool = new KvCachePool(SHAPE, new int[] {0, 32, 0, 32, 0}, KvCachePool.bytesPerBlock(SHAPE) * 12);
        KvCachePool.Layout l = pool.layout();
        assertEquals(2, l.groups());
        for (int layer = 0; layer < SHAPE.layers(); layer++) {
            int g = pool.group(layer);
            assertEquals(g, l.layerGroup()[layer]);
            assertEquals(pool.blocks(g).length, l.groupBlockIds()[g]);
            for (int kv = 0; kv < 2; kv++)
                for (int slot = 0; slot < KvCachePool.BLOCK_TOKENS; slot++)
                    for (int block : new int[] {0, 1, l.groupBlockIds()[g] - 1}) {
                        long want = (long) block * l.groupBlockFloats()[g] + pool.offset(layer, kv, slot);
                        assertEquals(want, l.element(layer, kv, block, slot));
                    }
        }
    }

    @Test
    void flattensBlockTablesOncePerSequence() throws Exception {
        KvCachePool pool = new KvCachePool(SHAPE, KvCachePool.bytesPerBlock(SHAPE) * 20);
        KvCachePool.Sequence a = pool.newSequence(), b = pool.newSequence();
        pool.reserve(a, 40);
        pool.reserve(b, 20);
        // a: a 3-token chunk at 37..39 (third block); b: one decode token at 17 (second block).
        int[] tokens = {5, 6, 7, 8}, pos = {37, 38, 39, 17};
        KvCachePool.Sequence[] seqOf = {a, a, a, b};
        DeviceBatch d = DeviceBatch.of(tokens, pos, seqOf, new int[] {2, 3});
        int[] table = d.tables()[0];
        assertEquals(3 + 2, table.length, "a reads 3 blocks, b 2");
        for (int t = 0; t < tokens.length; t++) {
            int[] own = seqOf[t].table(0);
            int start = d.tableStart()[0][t];
            for (int i = 0; i <= pos[t] / 16; i++) assertEquals(own[i], table[start + i]);
            assertEquals(own[pos[t] / 16], d.blockOf()[0][t]);
        }
        assertEquals(d.tableStart()[0][0], d.tableStart()[0][2]);
        assertNotEquals(d.tableStart()[0][0], d.tableStart()[0][3]);
        assertArrayEquals(new int[] {2, 3}, d.logitRows());
    }

    @Test
    void externalStorageTakesNoHostArrays() throws Exception {
        KvCachePool pool = new KvCachePool(SHAPE, KvCachePool.bytesPerBlock(SHAPE) * 4);
        int[] copies = new int[1];
        pool.storeBlocksIn((g, from, to) -> copies[0]++);
        KvCachePool.Sequence s = pool.newSequence();
        pool.reserve(s, 20);
        for (float[] block : pool.blocks(0)) assertNull(block);
        assertThrows(IllegalStateException.class, () -> pool.storeBlocksIn((g, f, t) -> {}));
        KvCachePool used = new KvCachePool(SHAPE, KvCachePool.bytesPerBlock(SHAPE) * 4);
        used.reserve(used.newSequence(), 1);
        assertThrows(IllegalStateException.class, () -> used.storeBlocksIn((g, f, t) -> {}));
    }
}
