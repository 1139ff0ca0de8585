package dev.anvil.registry.domain;

import jakarta.persistence.AttributeConverter;
import jakarta.persistence.Converter;

/**
 * Stores {@link Stage} as its name in a VARCHAR column. A converter rather than {@code @Enumerated}: Hibernate
 * would declare a native ENUM type on H2 but VARCHAR on PostgreSQL, and the schema is one SQL script for both.
 */
@Converter
public class StageConverter implements AttributeConverter<Stage, String> {

    @Override
    public String convertToDatabaseColumn(Stage stage) {
        return stage == null ? null : stage.name();
    }

    @Override
    public Stage convertToEntityAttribute(String column) {
        return column == null ? null : Stage.valueOf(column);
    }
}
