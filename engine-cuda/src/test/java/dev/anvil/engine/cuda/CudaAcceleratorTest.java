package dev.anvil.engine.cuda;

import static org.junit.jupiter.api.Assertions.*;

import dev.anvil.engine.Accelerator;
import dev.anvil.engine.DeviceChoice;
import dev.anvil.engine.DevicePlacement;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * The probe on the machine the tests run on: where the NVIDIA driver's device node is absent (CI, these build
 * machines) JCuda cannot initialize and {@code auto} must pick the CPU saying why; where it is present (a GPU
 * machine running bin/anvil test-gpu) the probe must find a device.
 */
class CudaAcceleratorTest {

    @Test
    void isFoundThroughTheServiceLoader() {
        assertInstanceOf(CudaAccelerator.class, Accelerator.find("cuda").orElseThrow());
    }

    @Test
    void probeMatchesTheMachine() {
        Accelerator.Probe probe = new CudaAccelerator().probe();
        boolean driver = Files.exists(Path.of("/dev/nvidiactl"));
        if (driver) {
            assertTrue(probe.available(), "a driver is present but: " + probe.problem());
            assertNull(probe.problem());
            assertTrue(probe.devices().get(0).totalBytes() > 0);
        } else {
            assertFalse(probe.available());
            assertTrue(
                    probe.problem().contains("native library")
                            || probe.problem().contains("cuInit"),
                    probe.problem());
            DevicePlacement.Decision d = DevicePlacement.decide(DeviceChoice.AUTO, probe, 1);
            assertTrue(d.cpu());
            assertTrue(d.reason().startsWith("auto chose the CPU: no usable CUDA device"), d.reason());
            assertThrows(
                    IllegalStateException.class, () -> DevicePlacement.decide(DeviceChoice.parse("cuda"), probe, 1));
        }
    }
}
