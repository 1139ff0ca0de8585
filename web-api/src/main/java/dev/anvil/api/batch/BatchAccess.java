package dev.anvil.api.batch;

import dev.anvil.api.ApiErrors;
import dev.anvil.api.ApiException;
import dev.anvil.api.gateway.CallerContext;
import dev.anvil.batch.BatchStore;
import dev.anvil.batch.domain.Batch;
import dev.anvil.batch.domain.BatchFile;
import dev.anvil.gateway.KeyGrant;
import jakarta.ejb.EJB;
import jakarta.enterprise.context.RequestScoped;
import jakarta.inject.Inject;

/**
 * Who may see which files and batches: the API key that created them (an anonymous caller, on a server that does not
 * require keys, sees those created anonymously). Another key's object is a 403, an unknown id a 404.
 */
@RequestScoped
class BatchAccess {

    @Inject
    CallerContext caller;

    @EJB
    BatchStore store;

    /** The caller's key id, null when anonymous. */
    Long keyId() {
        KeyGrant key = caller.key();
        return key == null ? null : key.keyId();
    }

    String tenant() {
        KeyGrant key = caller.key();
        return key == null ? null : key.tenant();
    }

    BatchFile file(String id, String param) {
        BatchFile file = store.file(id)
                .orElseThrow(() -> ApiException.notFound("no file '" + id + "'", param, "file_not_found"));
        if (!file.ownedBy(keyId())) throw notYours("file", id, param);
        return file;
    }

    Batch batch(String id) {
        Batch batch = anyBatch(store, id);
        if (!batch.ownedBy(keyId())) throw notYours("batch", id, "batch_id");
        return batch;
    }

    /** The batch {@code id} whoever owns it (operators), or a 404. */
    static Batch anyBatch(BatchStore store, String id) {
        return store.batch(id)
                .orElseThrow(() -> ApiException.notFound("no batch '" + id + "'", "batch_id", "batch_not_found"));
    }

    private ApiException notYours(String what, String id, String param) {
        return new ApiException(
                403,
                ApiErrors.TYPE_PERMISSION,
                what + " '" + id + "' belongs to another API key; only the key that created it may use it",
                param,
                "not_owner");
    }
}
