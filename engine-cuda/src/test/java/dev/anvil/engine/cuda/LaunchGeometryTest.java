package dev.anvil.engine.cuda;

import static org.junit.jupiter.api.Assertions.*;

import org.junit.jupiter.api.Test;

/** The launch shapes cover every row, token and element exactly as the kernels index them. */
class LaunchGeometryTest {

    @Test
    void matvecCoversEveryRowWithOneWarpEach() {
        for (int rows : new int[] {1, 3, 4, 5, 4096, 14336, 128256}) {
            LaunchGeometry g = LaunchGeometry.matvec(rows);
            assertEquals(128, g.block());
            long warps = (long) g.gridX() * g.block() / 32;
            assertTrue(warps >= rows && warps - rows < 4, rows + " rows, " + warps + " warps");
        }
        assertTrue(LaunchGeometry.useMatvec(1) && LaunchGeometry.useMatvec(8));
        assertFalse(LaunchGeometry.useMatvec(9), "matvec.cu accumulates at most MATVEC_TOKENS = 8 tokens");
    }

    @Test
    void matmulTilesRowsAndTokens() {
        LaunchGeometry g = LaunchGeometry.matmul(4096, 100);
        assertEquals(64, g.gridX());
        assertEquals(2, g.gridY());
        assertEquals(256, g.block(), "16x16 threads of 4x4 outputs make a 64x64 tile");
        assertEquals(1, LaunchGeometry.matmul(64, 64).gridX());
        assertEquals(2, LaunchGeometry.matmul(65, 64).gridX());
    }

    @Test
    void elementwiseAndAttention() {
        assertEquals(1, LaunchGeometry.elementwise(256).gridX());
        assertEquals(2, LaunchGeometry.elementwise(257).gridX());
        assertThrows(IllegalArgumentException.class, () -> LaunchGeometry.elementwise(1L << 40));
        LaunchGeometry a = LaunchGeometry.attention(7, 32);
        assertEquals(7, a.gridX());
        assertEquals(32, a.gridY());
        assertEquals(128, a.block());
    }
}
