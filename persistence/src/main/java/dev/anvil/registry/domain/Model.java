package dev.anvil.registry.domain;

import jakarta.persistence.CollectionTable;
import jakarta.persistence.Column;
import jakarta.persistence.ElementCollection;
import jakarta.persistence.Entity;
import jakarta.persistence.GeneratedValue;
import jakarta.persistence.GenerationType;
import jakarta.persistence.Id;
import jakarta.persistence.JoinColumn;
import jakarta.persistence.NamedQuery;
import jakarta.persistence.Table;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Collection;
import java.util.Collections;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;

/**
 * A named model in the registry: the parent of its versions. Its row is also the lock that serialises
 * stage changes among those versions (see the registry service).
 */
@Entity
@Table(name = "registry_model")
@NamedQuery(name = Model.BY_NAME, query = "select m from Model m where m.name = :name")
@NamedQuery(name = Model.ALL, query = "select m from Model m order by m.name")
public class Model {

    public static final String BY_NAME = "Model.byName";
    public static final String ALL = "Model.all";

    public static final int MAX_TAGS = 32;
    private static final Pattern TAG = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}");

    @Id
    @GeneratedValue(strategy = GenerationType.IDENTITY)
    private Long id;

    @Column(name = "name", nullable = false, length = 128, updatable = false)
    private String name;

    @Column(name = "description", length = RegistryText.MAX_DESCRIPTION)
    private String description;

    @Column(name = "owner_name", nullable = false, length = RegistryText.MAX_ACTOR)
    private String owner;

    @ElementCollection
    @CollectionTable(name = "registry_model_tag", joinColumns = @JoinColumn(name = "model_id"))
    @Column(name = "tag", nullable = false, length = 64)
    private Set<String> tags = new TreeSet<>();

    @Column(name = "created_at", nullable = false, updatable = false)
    private Instant createdAt;

    @Column(name = "created_by", nullable = false, length = RegistryText.MAX_ACTOR, updatable = false)
    private String createdBy;

    protected Model() {
        // for JPA
    }

    /**
     * @param owner who is responsible for the model; the creating actor when null or blank
     */
    public Model(String name, String description, String owner, Collection<String> tags, String actor, Instant at) {
        this.name = RegistryText.requireModelName(name);
        this.createdBy = RegistryText.requireActor(actor);
        this.description = RegistryText.optional("description", description, RegistryText.MAX_DESCRIPTION);
        String givenOwner = RegistryText.optional("owner", owner, RegistryText.MAX_ACTOR);
        this.owner = givenOwner != null ? givenOwner : this.createdBy;
        this.tags = validTags(tags);
        this.createdAt = at.truncatedTo(ChronoUnit.MICROS);
    }

    private static Set<String> validTags(Collection<String> tags) {
        Set<String> result = new TreeSet<>();
        if (tags == null) return result;
        for (String tag : tags) {
            if (tag == null || !TAG.matcher(tag).matches()) {
                throw new InvalidRegistryFieldException(
                        "tags",
                        "tag '" + tag
                                + "' is invalid: 1-64 characters, letters, digits, '.', '_', ':', '/' or '-', starting with a letter or digit");
            }
            result.add(tag);
        }
        if (result.size() > MAX_TAGS) {
            throw new InvalidRegistryFieldException(
                    "tags", "a model may have at most " + MAX_TAGS + " tags, got " + result.size());
        }
        return result;
    }

    public Long id() {
        return id;
    }

    public String name() {
        return name;
    }

    public String description() {
        return description;
    }

    public String owner() {
        return owner;
    }

    public Set<String> tags() {
        return Collections.unmodifiableSet(tags);
    }

    public Instant createdAt() {
        return createdAt;
    }

    public String createdBy() {
        return createdBy;
    }
}
