package dev.anvil.gateway.domain;

import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;

/** The period a tenant's token budget covers, in UTC. */
public enum BudgetPeriod {
    DAY,
    MONTH;

    /** The first UTC day of the period that contains {@code at}. */
    public LocalDate start(Instant at) {
        LocalDate day = at.atOffset(ZoneOffset.UTC).toLocalDate();
        return this == DAY ? day : day.withDayOfMonth(1);
    }

    /** The first UTC day after the period that contains {@code at}. */
    public LocalDate end(Instant at) {
        LocalDate start = start(at);
        return this == DAY ? start.plusDays(1) : start.plusMonths(1);
    }

    public static BudgetPeriod parse(String text) {
        if (text == null || text.isBlank()) {
            return DAY;
        }
        try {
            return valueOf(text.strip().toUpperCase(java.util.Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new InvalidGatewayFieldException(
                    "budgetPeriod", "budgetPeriod must be DAY or MONTH, got '" + text + "'");
        }
    }
}
