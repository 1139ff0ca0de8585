package dev.anvil.serving;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The loads the serving API reports: phases, bytes read, and how long (and how many) finished ones stay listed. */
class ModelLoadsTest {

    /** A clock the test moves. */
    static final class Manual extends Clock {
        Instant now = Instant.parse("2026-12-07T12:00:00Z");

        @Override
        public ZoneOffset getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(java.time.ZoneId zone) {
            return this;
        }

        @Override
        public Instant instant() {
            return now;
        }
    }

    @Test
    void aLoadReportsItsPhasesAndTheBytesRead() {
        Manual clock = new Manual();
        ModelLoads loads = new ModelLoads(clock);
        ModelLoads.Load load = loads.start("chat", "1.0.0");
        ModelLoads.Status s = loads.statuses().get(0);
        assertEquals(ModelLoads.Phase.READING, s.phase());
        assertEquals(0.0, s.fractionRead());

        load.weightsRead(250, 1000);
        s = loads.statuses().get(0);
        assertEquals(250, s.bytesRead());
        assertEquals(1000, s.bytesTotal());
        assertEquals(0.25, s.fractionRead(), 1e-9);
        assertNull(s.finishedAt());

        load.weightsRead(1000, 1000);
        load.phase(ModelLoads.Phase.WARMING);
        assertEquals(1.0, loads.statuses().get(0).fractionRead());
        clock.now = clock.now.plusSeconds(3);
        load.loaded();
        s = loads.statuses().get(0);
        assertEquals(ModelLoads.Phase.LOADED, s.phase());
        assertEquals(Duration.ofSeconds(3), Duration.between(s.startedAt(), s.finishedAt()));
        assertThrows(IllegalArgumentException.class, () -> load.phase(ModelLoads.Phase.LOADED));
    }

    @Test
    void aFailedLoadKeepsItsErrorAndHowFarItGot() {
        ModelLoads loads = new ModelLoads(new Manual());
        ModelLoads.Load load = loads.start("chat", "2.0.0");
        load.weightsRead(100, 400);
        load.failed(new java.io.IOException("model file /m/x.gguf is not readable"));
        load.loaded(); // a second end changes nothing
        ModelLoads.Status s = loads.statuses().get(0);
        assertEquals(ModelLoads.Phase.FAILED, s.phase());
        assertEquals("model file /m/x.gguf is not readable", s.error());
        assertEquals(0.25, s.fractionRead(), 1e-9);
        assertNotNull(s.finishedAt());
    }

    @Test
    void finishedLoadsAreForgottenAfterAWhileAndBounded() {
        Manual clock = new Manual();
        ModelLoads loads = new ModelLoads(clock);
        ModelLoads.Load running = loads.start("big", "1.0.0");
        for (int i = 0; i < ModelLoads.MAX_FINISHED + 5; i++) {
            clock.now = clock.now.plusSeconds(1);
            loads.start("m", "1.0." + i).loaded();
        }
        List<ModelLoads.Status> all = loads.statuses();
        assertEquals(ModelLoads.MAX_FINISHED + 1, all.size(), "the running load and the newest finished ones");
        assertEquals("big", all.get(0).model());
        assertEquals("1.0.5", all.get(1).version(), "the oldest finished were dropped first");

        clock.now = clock.now.plus(ModelLoads.KEEP).plusSeconds(1);
        all = loads.statuses();
        assertEquals(1, all.size(), "a load in progress is listed however long it takes");
        assertEquals(ModelLoads.Phase.READING, all.get(0).phase());
        running.loaded();
        assertEquals(1, loads.statuses().size());
    }
}
