package dev.anvil.security;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anvil.testing.ModuleClasses;
import jakarta.annotation.security.PermitAll;
import jakarta.annotation.security.RolesAllowed;
import jakarta.ejb.Singleton;
import jakarta.ejb.Stateful;
import jakarta.ejb.Stateless;
import java.io.IOException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * Every session bean of this module declares who may call it, on the class: {@code @RolesAllowed} or
 * {@code @PermitAll}. The server denies undeclared methods (default-missing-method-permissions-deny-access), so a
 * bean without a declaration would fail at its first call in the server rather than here; and an admin bean
 * declared open would pass every test while giving up the second line of defense behind the admin API.
 */
class EjbAccessDeclarationsTest {

    /** The beans behind the admin API: their changes need the admin role even if the web tier let a call through. */
    private static final Set<String> ADMIN_BEANS = Set.of(
            "dev.anvil.registry.ModelRegistry",
            "dev.anvil.registry.VersionRecorder",
            "dev.anvil.registry.ArtifactUploads",
            "dev.anvil.experiments.ExperimentService",
            "dev.anvil.gateway.GatewayAdmin",
            "dev.anvil.gateway.UsageReport",
            "dev.anvil.routing.RouterAdmin",
            "dev.anvil.routing.BlueGreenSwitch");

    @Test
    void everySessionBeanDeclaresItsAccessAndTheAdminBeansRequireTheAdminRole() throws IOException {
        List<Class<?>> beans = sessionBeans();
        assertTrue(beans.size() >= 16, "session beans found: " + beans);
        List<String> undeclared = new ArrayList<>();
        for (Class<?> bean : beans) {
            boolean permitAll = bean.isAnnotationPresent(PermitAll.class);
            RolesAllowed roles = bean.getAnnotation(RolesAllowed.class);
            if (permitAll == (roles != null)) {
                undeclared.add(bean.getName());
                continue;
            }
            if (ADMIN_BEANS.contains(bean.getName())) {
                assertTrue(
                        roles != null && List.of(roles.value()).equals(List.of(Roles.ADMIN)),
                        bean.getName() + " must be @RolesAllowed(Roles.ADMIN)");
            } else {
                assertTrue(permitAll, bean.getName() + " has @RolesAllowed but is not listed as an admin bean");
            }
        }
        assertEquals(
                List.of(), undeclared, "session beans without exactly one of @PermitAll / @RolesAllowed on the class");
        for (String admin : ADMIN_BEANS) {
            assertTrue(
                    beans.stream().anyMatch(b -> b.getName().equals(admin)), admin + " is not a session bean any more");
        }
    }

    /** The beans the admin API's resources call to change things. */
    private static final Set<String> CHANGE_FACADES = Set.of(
            "dev.anvil.registry.ModelRegistry",
            "dev.anvil.experiments.ExperimentService",
            "dev.anvil.gateway.GatewayAdmin",
            "dev.anvil.routing.BlueGreenSwitch");

    @Test
    void theAdminApisChangesTakeNoActorFromTheirCaller() throws IOException {
        // The actor is the authenticated principal (Callers), never a parameter a resource could fill from the request.
        for (Class<?> bean : sessionBeans()) {
            if (!CHANGE_FACADES.contains(bean.getName())) continue;
            for (Method method : bean.getDeclaredMethods()) {
                if (!Modifier.isPublic(method.getModifiers())) continue;
                for (var parameter : method.getParameters()) {
                    assertFalse(
                            parameter.getName().equalsIgnoreCase("actor"),
                            bean.getSimpleName() + "." + method.getName() + " takes an actor parameter");
                }
            }
        }
    }

    static List<Class<?>> sessionBeans() throws IOException {
        List<Class<?>> beans = new ArrayList<>();
        for (Class<?> type : ModuleClasses.compiled(EjbAccessDeclarationsTest.class.getClassLoader())) {
            if (type.isAnnotationPresent(Stateless.class)
                    || type.isAnnotationPresent(Singleton.class)
                    || type.isAnnotationPresent(Stateful.class)) {
                beans.add(type);
            }
        }
        return beans;
    }
}
