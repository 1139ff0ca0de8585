package dev.anvil.registry.domain;

import jakarta.persistence.AttributeConverter;
import jakarta.persistence.Converter;

/** Stores {@link ArtifactFormat} as its name in a VARCHAR column (see {@link StageConverter} for why not an enum mapping). */
@Converter
public class ArtifactFormatConverter implements AttributeConverter<ArtifactFormat, String> {

    @Override
    public String convertToDatabaseColumn(ArtifactFormat format) {
        return format == null ? null : format.name();
    }

    @Override
    public ArtifactFormat convertToEntityAttribute(String column) {
        return column == null ? null : ArtifactFormat.valueOf(column);
    }
}
