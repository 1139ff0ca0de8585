package dev.anvil.registry.domain;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class SemanticVersionTest {

    @Test
    void parsesAllParts() {
        SemanticVersion v = SemanticVersion.parse("1.20.3-rc.1+build.0042");
        assertEquals(1, v.major());
        assertEquals(20, v.minor());
        assertEquals(3, v.patch());
        assertEquals(List.of("rc", "1"), v.preRelease());
        assertEquals(List.of("build", "0042"), v.build());
        assertTrue(v.isPreRelease());
        assertEquals("1.20.3-rc.1+build.0042", v.toString());
    }

    @ParameterizedTest
    @ValueSource(
            strings = {
                "0.0.0",
                "1.0.0",
                "10.20.30",
                "1.0.0-alpha",
                "1.0.0-alpha-1.x-y",
                "1.0.0-0.3.7",
                "1.0.0+20130313144700",
                "1.0.0-beta+exp.sha.5114f85",
                "1.0.0--",
                "1.0.0-0A"
            })
    void acceptsValidVersions(String text) {
        assertEquals(text, SemanticVersion.parse(text).toString());
    }

    @ParameterizedTest
    @ValueSource(
            strings = {
                "1",
                "1.0",
                "1.0.0.0",
                "01.0.0",
                "1.02.0",
                "1.0.03",
                "v1.0.0",
                "1.0.0-",
                "1.0.0+",
                "1.0.0-alpha..1",
                "1.0.0-01",
                "1.0.0-al_pha",
                "1.0.0+bu ild",
                "-1.0.0",
                "1.a.0",
                " 1.0.0",
                "1.0.0 ",
                "1..0",
                "1.0.0-rc.1+",
                "1.0.0+a+b"
            })
    void rejectsInvalidVersions(String text) {
        InvalidSemanticVersionException e =
                assertThrows(InvalidSemanticVersionException.class, () -> SemanticVersion.parse(text));
        assertEquals("version", e.field());
        assertTrue(e.getMessage().contains("version"), e.getMessage());
    }

    @Test
    void rejectsMissingAndOverlongText() {
        assertThrows(InvalidSemanticVersionException.class, () -> SemanticVersion.parse(null));
        assertThrows(InvalidSemanticVersionException.class, () -> SemanticVersion.parse(""));
        String longest = "1.0.0-" + "a".repeat(SemanticVersion.MAX_LENGTH - 6);
        assertEquals(longest, SemanticVersion.parse(longest).toString());
        InvalidSemanticVersionException e =
                assertThrows(InvalidSemanticVersionException.class, () -> SemanticVersion.parse(longest + "a"));
        assertTrue(e.getMessage().contains("longer than 64"), e.getMessage());
    }

    @Test
    void leadingZeroMessageNamesThePart() {
        InvalidSemanticVersionException e =
                assertThrows(InvalidSemanticVersionException.class, () -> SemanticVersion.parse("1.02.0"));
        assertTrue(e.getMessage().contains("minor version '02' has a leading zero"), e.getMessage());
    }

    @Test
    void ordersByPrecedenceOfSemverSpec() {
        // The example chain of semver.org section 11, shuffled, must sort back into order.
        List<String> expected = List.of(
                "1.0.0-alpha",
                "1.0.0-alpha.1",
                "1.0.0-alpha.beta",
                "1.0.0-beta",
                "1.0.0-beta.2",
                "1.0.0-beta.11",
                "1.0.0-rc.1",
                "1.0.0",
                "1.0.1",
                "1.1.0",
                "2.0.0",
                "10.0.0");
        List<SemanticVersion> versions =
                new ArrayList<>(expected.stream().map(SemanticVersion::parse).toList());
        Collections.shuffle(versions, new java.util.Random(7));
        Collections.sort(versions);
        assertEquals(expected, versions.stream().map(SemanticVersion::toString).toList());
    }

    @Test
    void buildMetadataDoesNotAffectPrecedenceButKeepsIdentity() {
        SemanticVersion a = SemanticVersion.parse("1.0.0+a");
        SemanticVersion b = SemanticVersion.parse("1.0.0+b");
        assertEquals(0, a.compareTo(b));
        assertNotEquals(a, b);
        assertEquals(SemanticVersion.parse("1.0.0+a"), a);
        assertEquals(a.hashCode(), SemanticVersion.parse("1.0.0+a").hashCode());
    }

    @Test
    void converterRoundTrips() {
        SemanticVersionConverter converter = new SemanticVersionConverter();
        SemanticVersion v = SemanticVersion.parse("2.1.0-rc.2");
        assertEquals("2.1.0-rc.2", converter.convertToDatabaseColumn(v));
        assertEquals(v, converter.convertToEntityAttribute("2.1.0-rc.2"));
    }
}
