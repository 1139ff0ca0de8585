package dev.anvil.api.security;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * A resource of the OpenAI-compatible API: callers are API-key holders, and every call passes the gateway
 * ({@link dev.anvil.api.gateway.ApiKeyFilter}: key authentication, model scope, limits, budget, audit). Anonymous
 * callers are admitted only where the server allows them ({@code anvil.gateway.require-api-key}). One of the three
 * access declarations {@link AccessControlFeature} accepts, next to {@code @RolesAllowed} and {@code @PermitAll}.
 */
@Documented
@Retention(RetentionPolicy.RUNTIME)
@Target({ElementType.TYPE, ElementType.METHOD})
public @interface ApiKeyAccess {}
