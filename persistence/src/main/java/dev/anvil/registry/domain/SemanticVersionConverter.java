package dev.anvil.registry.domain;

import jakarta.persistence.AttributeConverter;
import jakarta.persistence.Converter;

/** Stores a {@link SemanticVersion} as its exact text; reading parses it again, so stored rows are always valid. */
@Converter
public class SemanticVersionConverter implements AttributeConverter<SemanticVersion, String> {

    @Override
    public String convertToDatabaseColumn(SemanticVersion version) {
        return version == null ? null : version.toString();
    }

    @Override
    public SemanticVersion convertToEntityAttribute(String column) {
        return column == null ? null : SemanticVersion.parse(column);
    }
}
