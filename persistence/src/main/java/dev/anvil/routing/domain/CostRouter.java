package dev.anvil.routing.domain;

import jakarta.persistence.Column;
import jakarta.persistence.Entity;
import jakarta.persistence.GeneratedValue;
import jakarta.persistence.GenerationType;
import jakarta.persistence.Id;
import jakarta.persistence.Table;
import java.time.Instant;
import java.time.temporal.ChronoUnit;

/**
 * A cost-aware router as stored ({@code routing_router}, migration V9): its name and its definition, the JSON of a
 * validated {@code dev.anvil.routing.RouterSpec}. The definition's rules are checked by the service before it is
 * stored (the database only bounds its size), since they refer to the registry's models.
 */
@Entity
@Table(name = "routing_router")
public class CostRouter {

    public static final int MAX_NAME = 64;
    public static final int MAX_DEFINITION = 16_000;

    @Id
    @GeneratedValue(strategy = GenerationType.IDENTITY)
    private Long id;

    @Column(name = "name", nullable = false, length = MAX_NAME, updatable = false)
    private String name;

    @Column(name = "definition", nullable = false, length = MAX_DEFINITION)
    private String definition;

    @Column(name = "created_at", nullable = false, updatable = false)
    private Instant createdAt;

    @Column(name = "updated_at", nullable = false)
    private Instant updatedAt;

    @Column(name = "updated_by", nullable = false, length = 128)
    private String updatedBy;

    protected CostRouter() {
        // for JPA
    }

    public CostRouter(String name, String definition, String actor) {
        this.name = name;
        this.createdAt = Instant.now().truncatedTo(ChronoUnit.MICROS);
        redefine(definition, actor);
    }

    /** Replaces the definition (already validated), recording who changed it and when. */
    public void redefine(String definition, String actor) {
        if (definition == null || definition.length() > MAX_DEFINITION) {
            throw new IllegalArgumentException("a router definition holds at most " + MAX_DEFINITION + " characters");
        }
        this.definition = definition;
        this.updatedAt = Instant.now().truncatedTo(ChronoUnit.MICROS);
        this.updatedBy = actor.length() > 128 ? actor.substring(0, 128) : actor;
    }

    public Long getId() {
        return id;
    }

    public String getName() {
        return name;
    }

    public String getDefinition() {
        return definition;
    }

    public Instant getCreatedAt() {
        return createdAt;
    }

    public Instant getUpdatedAt() {
        return updatedAt;
    }

    public String getUpdatedBy() {
        return updatedBy;
    }
}
