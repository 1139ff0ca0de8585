package dev.anvil.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The admin WAR at /admin, the Swagger UI at /swagger-ui/ and the root redirect. */
@ExtendWith(AnvilServerExtension.class)
class AdminPageIT {

    @Test
    void adminPageDescribesAnvilAndLinksToDocs(AnvilServer server) {
        HttpResult admin = server.get("/admin/");
        assertEquals(200, admin.status(), admin::toString);
        assertTrue(admin.contentType().startsWith("text/html"), admin::toString);
        assertTrue(admin.body().contains("<title>Anvil admin</title>"), admin::toString);
        assertTrue(admin.body().contains("href=\"/openapi\""), admin::toString);
        assertTrue(admin.body().contains("href=\"/swagger-ui/\""), admin::toString);
    }

    @Test
    void rootRedirectsToAdmin(AnvilServer server) {
        HttpResult root = server.get("/");
        assertEquals(303, root.status(), root::toString);
        assertTrue(root.headers().firstValue("Location").orElse("").endsWith("/admin/"), root::toString);
    }

    @Test
    void swaggerUiIsServedAndPointsAtOurDocument(AnvilServer server) {
        HttpResult redirect = server.get("/swagger-ui");
        assertEquals(303, redirect.status(), redirect::toString);

        HttpResult index = server.get("/swagger-ui/");
        assertEquals(200, index.status(), index::toString);
        assertTrue(index.body().contains("swagger-ui-bundle.js"), index::toString);

        HttpResult bundle = server.get("/swagger-ui/swagger-ui-bundle.js");
        assertEquals(200, bundle.status(), () -> bundle.method() + " " + bundle.path() + " -> " + bundle.status());
        assertTrue(bundle.body().length() > 100_000, "the real Swagger UI bundle, not a stub");

        HttpResult initializer = server.get("/swagger-ui/swagger-initializer.js");
        assertEquals(200, initializer.status(), initializer::toString);
        assertTrue(initializer.body().contains("/openapi"), initializer::toString);

        HttpResult traversal = server.get("/swagger-ui/..%2F..%2Fetc%2Fpasswd");
        assertEquals(404, traversal.status(), traversal::toString);
    }
}
