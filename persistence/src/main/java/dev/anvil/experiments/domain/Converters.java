package dev.anvil.experiments.domain;

import jakarta.persistence.AttributeConverter;
import jakarta.persistence.Converter;

/**
 * Enum columns stored as text. Converters rather than {@code @Enumerated}: Hibernate would declare native
 * ENUM types on H2 but VARCHAR on PostgreSQL, and the schema is one SQL script for both.
 */
public final class Converters {

    private Converters() {}

    @Converter
    public static class StrategyConverter implements AttributeConverter<ExperimentStrategy, String> {
        @Override
        public String convertToDatabaseColumn(ExperimentStrategy value) {
            return value == null ? null : value.name();
        }

        @Override
        public ExperimentStrategy convertToEntityAttribute(String column) {
            return column == null ? null : ExperimentStrategy.valueOf(column);
        }
    }

    @Converter
    public static class StatusConverter implements AttributeConverter<ExperimentStatus, String> {
        @Override
        public String convertToDatabaseColumn(ExperimentStatus value) {
            return value == null ? null : value.name();
        }

        @Override
        public ExperimentStatus convertToEntityAttribute(String column) {
            return column == null ? null : ExperimentStatus.valueOf(column);
        }
    }

    @Converter
    public static class MetricConverter implements AttributeConverter<PrimaryMetric, String> {
        @Override
        public String convertToDatabaseColumn(PrimaryMetric value) {
            return value == null ? null : value.key();
        }

        @Override
        public PrimaryMetric convertToEntityAttribute(String column) {
            return column == null ? null : PrimaryMetric.parse(column);
        }
    }

    @Converter
    public static class ScaleConverter implements AttributeConverter<FeedbackScale, String> {
        @Override
        public String convertToDatabaseColumn(FeedbackScale value) {
            return value == null ? null : value.name();
        }

        @Override
        public FeedbackScale convertToEntityAttribute(String column) {
            return column == null ? null : FeedbackScale.valueOf(column);
        }
    }
}
