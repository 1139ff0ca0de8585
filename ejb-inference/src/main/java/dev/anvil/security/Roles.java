package dev.anvil.security;

/**
 * The roles of Anvil's security domain (Elytron {@code AnvilDomain}, server-config 80-security.cli). The web tier
 * checks them on the resource method a request invokes, and the EJBs behind the admin API check them again.
 */
public final class Roles {

    /** Administrators: the admin API (registry, experiments, gateway) and the EJB methods behind it. */
    public static final String ADMIN = "anvil-admin";

    private Roles() {}
}
