package dev.anvil.api.openai;

import dev.anvil.api.gateway.CallerContext;
import dev.anvil.serving.InferenceException;
import dev.anvil.serving.InferenceService;
import dev.anvil.serving.ServedModel;
import jakarta.ejb.EJB;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import java.util.List;

/**
 * The served models as the caller sees them: for {@code GET /v1/models} and for the generation pipeline's model
 * stage. A key scoped to some models sees only those; unknown models are 404 {@code model_not_found}.
 */
@ApplicationScoped
public class ServedModels {

    @EJB
    InferenceService inference;

    /** The caller (request-scoped): its API key's model scope. */
    @Inject
    CallerContext caller;

    /** The served models the caller may use: all of them, or those its API key is scoped to. */
    List<ServedModel> visible() {
        var key = caller.key();
        return key == null
                ? inference.models()
                : inference.models().stream().filter(m -> key.allows(m.name())).toList();
    }

    /** Whether {@code ref} ({@code name@version}) is what its name serves now (then anyone may pin it). */
    boolean servesName(String ref) {
        return inference.models().stream().anyMatch(m -> m.ref().equals(ref));
    }

    /** {@code name} / {@code name@version} for this caller: 403 when its key may not use the model, else {@link #served}. */
    ServedModel resolve(String ref, String promptParam) {
        caller.requireModel(ref);
        return served(ref, promptParam);
    }

    /**
     * The served model behind {@code name} / {@code name@version}, whoever asks (the caller's scope is checked
     * before: {@link #resolve}, or the pipeline's routing stage). A registered version that is not loaded is loaded.
     */
    ServedModel served(String ref, String promptParam) {
        try {
            return inference.resolve(ref);
        } catch (InferenceException e) {
            throw InferenceErrors.exception(e, promptParam);
        }
    }
}
