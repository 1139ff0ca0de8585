package dev.anvil.api.error;

import dev.anvil.api.ApiErrors;
import dev.anvil.api.ErrorResponse;
import dev.anvil.api.openai.OpenAiJson;
import dev.anvil.api.security.ScriptedCaller;
import dev.anvil.gateway.GatewayLedger;
import dev.anvil.security.Callers;
import jakarta.ejb.EJB;
import jakarta.servlet.DispatcherType;
import jakarta.servlet.RequestDispatcher;
import jakarta.servlet.annotation.WebServlet;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Base64;

/**
 * The error page of the web-api WAR (web.xml {@code error-page}s): the answers the servlet container gives on its own,
 * before any resource runs, get the same OpenAI-shaped JSON as every other error instead of Undertow's HTML page.
 * The one a client meets in practice is a 401 for HTTP Basic credentials the security domain rejects (WildFly
 * authenticates whenever credentials are sent, on every path); those failures are also audited
 * ({@code authentication.failed}, with the user name tried, never the password). A script's request
 * ({@link dev.anvil.api.security.ScriptedCaller}) gets that 401 without the domain's Basic challenge.
 */
@WebServlet(name = "anvil-error-page", urlPatterns = ContainerErrorServlet.PATH)
public class ContainerErrorServlet extends HttpServlet {

    static final String PATH = "/errors/container";
    private static final int MAX_USER_CHARS = 128;

    @EJB
    GatewayLedger ledger;

    @Override
    protected void service(HttpServletRequest request, HttpServletResponse response) throws IOException {
        if (request.getDispatcherType() != DispatcherType.ERROR) {
            // Asked for directly: it is not an endpoint.
            write(
                    response,
                    404,
                    ApiErrors.body(
                            ApiErrors.TYPE_INVALID_REQUEST,
                            "Unknown path: " + request.getMethod() + " " + request.getRequestURI(),
                            null,
                            "unknown_path"));
            return;
        }
        int status = request.getAttribute(RequestDispatcher.ERROR_STATUS_CODE) instanceof Integer code ? code : 500;
        String uri = request.getAttribute(RequestDispatcher.ERROR_REQUEST_URI) instanceof String u ? u : "(unknown)";
        ErrorResponse body = switch (status) {
            case 401 -> {
                if (ScriptedCaller.isScripted(request.getHeader(ScriptedCaller.HEADER))) {
                    // The security domain's challenge would open the browser's login dialog over the console's form.
                    response.setHeader("WWW-Authenticate", null);
                }
                String user = basicUser(request.getHeader("Authorization"));
                ledger.audit(
                        user == null ? Callers.ANONYMOUS : user,
                        null,
                        "authentication.failed",
                        request.getMethod() + " " + uri,
                        401,
                        null);
                yield ApiErrors.body(
                        ApiErrors.TYPE_INVALID_REQUEST,
                        user == null
                                ? "authentication failed: the credentials sent are not valid HTTP Basic credentials"
                                : "authentication failed for user '" + user
                                        + "': unknown user or wrong password (HTTP Basic, realm 'anvil')",
                        null,
                        "invalid_credentials");
            }
            case 403 ->
                ApiErrors.body(
                        ApiErrors.TYPE_PERMISSION, "the caller is not allowed to access " + uri, null, "access_denied");
            case 404 ->
                ApiErrors.body(
                        ApiErrors.TYPE_INVALID_REQUEST,
                        "Unknown path: " + request.getMethod() + " " + uri,
                        null,
                        "unknown_path");
            case 400 ->
                ApiErrors.body(
                        ApiErrors.TYPE_INVALID_REQUEST,
                        "the request could not be read (malformed request line, path" + " or headers)",
                        null,
                        "malformed_request");
            default ->
                ApiErrors.body(
                        ApiErrors.typeForStatus(status),
                        status >= 500
                                ? "The server had an error while processing your request"
                                : "the request was refused (HTTP " + status + ")",
                        null,
                        null);
        };
        write(response, status, body);
    }

    private static void write(HttpServletResponse response, int status, ErrorResponse body) throws IOException {
        response.setStatus(status);
        response.setContentType("application/json");
        response.setCharacterEncoding("UTF-8");
        response.getOutputStream().write(OpenAiJson.toJson(body).getBytes(StandardCharsets.UTF_8));
    }

    /** The user name of HTTP Basic credentials, bounded and stripped of control characters; null when unreadable. */
    static String basicUser(String authorization) {
        if (authorization == null
                || authorization.length() < 7
                || !authorization.regionMatches(true, 0, "Basic ", 0, 6)) {
            return null;
        }
        String decoded;
        try {
            decoded = new String(
                    Base64.getDecoder().decode(authorization.substring(6).strip()), StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            return null;
        }
        int colon = decoded.indexOf(':');
        String user = (colon < 0 ? decoded : decoded.substring(0, colon)).replaceAll("\\p{Cntrl}", "?");
        if (user.isBlank()) return null;
        return user.length() > MAX_USER_CHARS ? user.substring(0, MAX_USER_CHARS) + "..." : user;
    }
}
