package dev.anvil.gateway;

import java.net.InetAddress;
import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * Whether {@code /v1} callers need an API key, from {@code anvil.gateway.require-api-key} and the addresses the API
 * listens on. {@code auto} (the default): anonymous callers are served only while every listening address is a
 * loopback address, so a server reachable from other hosts never answers them by accident; {@code true}: always
 * required; {@code false}: never, which an operator may choose explicitly (behind a trusted proxy that
 * authenticates), with a warning when the server is reachable beyond loopback. Anything else fails closed.
 *
 * @param required   whether a key is required
 * @param explanation why, for the log and for the 401 a caller without a key gets
 * @param warning    what the operator should know (null when nothing), logged at WARNING once at startup
 */
public record ApiKeyRequirement(boolean required, String explanation, String warning) {

    public static ApiKeyRequirement decide(String setting, List<InetAddress> listening) {
        String value = setting == null ? "auto" : setting.strip().toLowerCase(Locale.ROOT);
        List<InetAddress> exposed =
                listening.stream().filter(a -> !a.isLoopbackAddress()).toList();
        String where = listening.isEmpty()
                ? "(no listening address known)"
                : listening.stream().map(InetAddress::getHostAddress).collect(Collectors.joining(", "));
        return switch (value) {
            case "true" -> new ApiKeyRequirement(true, GatewayConfig.REQUIRE_API_KEY + "=true", null);
            case "false" ->
                new ApiKeyRequirement(
                        false,
                        GatewayConfig.REQUIRE_API_KEY + "=false",
                        exposed.isEmpty() && !listening.isEmpty()
                                ? null
                                : "anonymous /v1 access is on (" + GatewayConfig.REQUIRE_API_KEY
                                        + "=false) while the API listens on " + where
                                        + ": anyone who reaches it can generate without a key, limits or budget; set it to auto or true unless a"
                                        + " trusted proxy in front authenticates every caller");
            case "auto" ->
                listening.isEmpty() || !exposed.isEmpty()
                        ? new ApiKeyRequirement(
                                true,
                                "the API listens on " + where + ", beyond loopback (" + GatewayConfig.REQUIRE_API_KEY
                                        + "=auto)",
                                null)
                        : new ApiKeyRequirement(
                                false,
                                "the API listens on loopback only (" + where + "; " + GatewayConfig.REQUIRE_API_KEY
                                        + "=auto)",
                                null);
            default ->
                new ApiKeyRequirement(
                        true,
                        GatewayConfig.REQUIRE_API_KEY + " has the invalid value '" + setting + "'",
                        GatewayConfig.REQUIRE_API_KEY + "='" + setting
                                + "' is not auto, true or false: API keys are required until it is fixed");
        };
    }
}
