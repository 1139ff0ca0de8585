package dev.anvil.routing;

/** Fired (after commit) when a router was defined, redefined or removed: the request path re-reads them. */
public record RoutersChanged(String name) {}
