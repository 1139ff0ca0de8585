package dev.anvil.serving;

import jakarta.annotation.PostConstruct;
import jakarta.annotation.security.PermitAll;
import jakarta.ejb.ConcurrencyManagement;
import jakarta.ejb.ConcurrencyManagementType;
import jakarta.ejb.Singleton;
import jakarta.ejb.Startup;
import java.util.logging.Logger;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Probes, once at deployment, what the engine's SIMD kernels will get on this JVM: the preferred
 * {@code jdk.incubator.vector} species. Computing it here (inside the deployment's JBoss Modules class
 * loader) proves the incubator module is visible to the application, not just to the launcher; a
 * deployment that cannot see it fails right here with a clear NoClassDefFoundError instead of on the
 * first inference request. The result is logged and reported by the liveness check.
 */
@Singleton
@Startup
@ConcurrencyManagement(ConcurrencyManagementType.BEAN)
@PermitAll
public class EngineEnvironment {

    private static final Logger LOG = Logger.getLogger(EngineEnvironment.class.getName());

    private int vectorBitSize;
    private int floatLanes;
    private int availableProcessors;
    private long maxHeapBytes;

    @PostConstruct
    void probe() {
        VectorSpecies<Float> species = FloatVector.SPECIES_PREFERRED;
        vectorBitSize = species.vectorBitSize();
        floatLanes = species.length();
        availableProcessors = Runtime.getRuntime().availableProcessors();
        maxHeapBytes = Runtime.getRuntime().maxMemory();
        LOG.info(() -> String.format(
                "Anvil engine environment: Vector API FloatVector.SPECIES_PREFERRED = %d bits, %d float lanes; "
                        + "%d processors; max heap %d MiB; Java %s",
                vectorBitSize, floatLanes, availableProcessors, maxHeapBytes >> 20, Runtime.version()));
    }

    /** Width in bits of the preferred float vector (e.g. 256 on AVX2, 512 on AVX-512). */
    public int vectorBitSize() {
        return vectorBitSize;
    }

    /** {@code FloatVector.SPECIES_PREFERRED.length()}: floats processed per SIMD operation. */
    public int floatLanes() {
        return floatLanes;
    }

    public int availableProcessors() {
        return availableProcessors;
    }

    public long maxHeapBytes() {
        return maxHeapBytes;
    }
}
