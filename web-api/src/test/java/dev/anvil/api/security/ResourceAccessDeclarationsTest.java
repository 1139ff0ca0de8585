package dev.anvil.api.security;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anvil.api.EndpointTemplate;
import dev.anvil.api.security.AccessControlFeature.Access;
import dev.anvil.testing.ModuleClasses;
import jakarta.annotation.security.DenyAll;
import jakarta.annotation.security.PermitAll;
import jakarta.annotation.security.RolesAllowed;
import jakarta.ws.rs.HttpMethod;
import jakarta.ws.rs.Path;
import java.io.IOException;
import java.lang.annotation.Annotation;
import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Every resource method of the WAR declares who may call it, and the declaration fits its place in the API: the
 * admin API is for the admin role, {@code /v1} goes through the API-key gateway, everything else is public. A method
 * that declared nothing would be refused to everyone by {@link AccessControlFeature}; this finds it at build time.
 */
class ResourceAccessDeclarationsTest {

    record Endpoint(String method, String template, Access access) {}

    @Test
    void everyResourceMethodDeclaresAnAccessThatFitsItsPath() throws IOException {
        List<Endpoint> endpoints = endpoints();
        assertTrue(endpoints.size() >= 40, endpoints::toString);
        for (Endpoint e : endpoints) {
            Access expected = e.template().startsWith("/api/")
                    ? Access.ADMIN
                    : e.template().startsWith("/v1/") ? Access.API_KEY : Access.PUBLIC;
            assertEquals(expected, e.access(), e::toString);
        }
    }

    @Test
    void theMethodsDeclarationWinsAndContradictionsAreRefused() throws NoSuchMethodException {
        assertEquals(
                Access.PUBLIC, AccessControlFeature.declared(AdminClass.class, AdminClass.class.getMethod("open")));
        assertEquals(
                Access.ADMIN, AccessControlFeature.declared(AdminClass.class, AdminClass.class.getMethod("inherited")));
        assertEquals(
                Access.DENIED, AccessControlFeature.declared(AdminClass.class, AdminClass.class.getMethod("denied")));
        assertEquals(
                Access.DENIED,
                AccessControlFeature.declared(AdminClass.class, AdminClass.class.getMethod("otherRole")));
        assertEquals(
                Access.DENIED, AccessControlFeature.declared(AdminClass.class, AdminClass.class.getMethod("both")));
        assertEquals(Access.DENIED, AccessControlFeature.declared(Undeclared.class, Undeclared.class.getMethod("get")));
    }

    @RolesAllowed("anvil-admin")
    static class AdminClass {
        @PermitAll
        public void open() {}

        public void inherited() {}

        @DenyAll
        public void denied() {}

        @RolesAllowed("someone-else")
        public void otherRole() {}

        @PermitAll
        @ApiKeyAccess
        public void both() {}
    }

    static class Undeclared {
        public void get() {}
    }

    /** The resource methods of target/classes: classes with {@code @Path}, methods with an HTTP method annotation. */
    static List<Endpoint> endpoints() throws IOException {
        List<Endpoint> endpoints = new ArrayList<>();
        for (Class<?> type : ModuleClasses.compiled(ResourceAccessDeclarationsTest.class.getClassLoader())) {
            if (!type.isAnnotationPresent(Path.class)) continue;
            for (Method method : type.getMethods()) {
                String http = httpMethod(method);
                if (http == null) continue;
                endpoints.add(new Endpoint(
                        http, EndpointTemplate.of(type, method), AccessControlFeature.declared(type, method)));
            }
        }
        return endpoints;
    }

    private static String httpMethod(Method method) {
        for (Annotation a : method.getAnnotations()) {
            HttpMethod http = a.annotationType().getAnnotation(HttpMethod.class);
            if (http != null) return http.value();
        }
        return null;
    }
}
