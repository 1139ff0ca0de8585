package dev.anvil.it.console;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.anvil.it.AnvilServer;
import dev.anvil.it.AnvilServerExtension;
import dev.anvil.it.Eventually;
import dev.anvil.it.HttpResult;
import dev.anvil.it.TestModel;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.ExtendWith;
import org.openqa.selenium.By;
import org.openqa.selenium.Dimension;
import org.openqa.selenium.Keys;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.support.ui.Select;

/**
 * The admin console at /admin/ in a real browser (headless Chromium), walked as an operator would: signing in (and
 * being refused) in the page's own form, the overview's live table and charts under load, registering, promoting and
 * blue-green switching versions with reasons and seeing the promotion's load, a narrow screen and dark mode, signing
 * out, editing a tenant, keys in the playground (with the answer's trace id), a canary, the drift view, a cost-aware
 * router created, served, edited and deleted, and batches uploaded, run, downloaded and cancelled. Each step
 * asserts what the page shows, and the page logs no errors. Screenshots of each section go to docs/console/.
 */
@ExtendWith(AnvilServerExtension.class)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ConsoleIT {

    /** What Chromium logs for an API answer of 401/403, which the sign-in test provokes on purpose. */
    private static final String REFUSED_401 = "status of 401";

    private static final String REFUSED_403 = "status of 403";

    /** What Chromium logs for a 400, which the registry and experiment tests provoke to see the API's message in the form. */
    private static final String REFUSED_400 = "status of 400";

    private static ConsoleBrowser browser;

    @BeforeAll
    static void openBrowser(AnvilServer server) {
        browser = ConsoleBrowser.open(server);
    }

    @BeforeEach
    void forgetEarlierConsoleMessages() {
        browser.drainConsole();
    }

    @AfterAll
    static void closeBrowser() {
        if (browser != null) browser.close();
    }

    @Test
    @Order(1)
    void signInIsTheConsolesOwnFormAndRefusalsAreShownInIt() {
        browser.go("overview");
        browser.find("#login-form");
        browser.screenshot("login");
        // Every control of the form has a label.
        assertEquals(
                0L,
                browser.script("return [...document.querySelectorAll('#login-form input')]"
                        + ".filter(i => !document.querySelector('label[for=\"' + i.id + '\"]')).length"));

        browser.signIn(AnvilServer.ADMIN_USER, "not-the-password");
        browser.text("#login-error", "Wrong user name or password");
        browser.signIn(AnvilServer.USER_WITHOUT_ROLE, AnvilServer.PASSWORD);
        browser.text("#login-error", "is not an administrator");

        // By keyboard alone: the form has focus on load, Tab moves to the password, Enter signs in.
        browser.go("overview");
        browser.driver.navigate().refresh();
        browser.find("#login-user");
        WebElement focused = browser.until(
                d -> {
                    WebElement active = d.switchTo().activeElement();
                    return "login-user".equals(active.getAttribute("id")) ? active : null;
                },
                "focus in the user field");
        focused.sendKeys(AnvilServer.ADMIN_USER, Keys.TAB, AnvilServer.PASSWORD, Keys.ENTER);
        browser.text("#whoami", AnvilServer.ADMIN_USER);
        browser.find("#nav");
        browser.assertNoConsoleErrors(REFUSED_401, REFUSED_403);

        // Credentials the server no longer accepts: the next call's 401 brings the form back with a reason.
        browser.script("sessionStorage.setItem('anvil.console.session', JSON.stringify({user: 'it-admin',"
                + " authorization: 'Basic ' + btoa('it-admin:changed-meanwhile')}))");
        browser.driver.navigate().refresh();
        browser.text("#login-error", "did not accept your credentials");
        browser.assertNoConsoleErrors(REFUSED_401);
    }

    @Test
    @Order(2)
    void overviewShowsTheLoadedVersionAndItsChartsMoveUnderLoad(AnvilServer server) throws Exception {
        browser.signInAsAdmin();
        browser.go("overview");
        String row = "#overview-versions tr[data-ref=\"stories260k@1.0.0\"]";
        browser.text(row + " td[data-col=\"stage\"]", "PRODUCTION");
        browser.text(row + " td[data-col=\"breaker\"]", "CLOSED");
        int before = points("Throughput");

        AtomicBoolean stop = new AtomicBoolean();
        List<Thread> clients = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            Thread t = Thread.ofVirtual().start(() -> {
                while (!stop.get()) {
                    server.post(
                            "/v1/completions",
                            "{\"model\":\"stories260k\",\"prompt\":\"Once upon a time\",\"max_tokens\":48}");
                }
            });
            clients.add(t);
        }
        try {
            // Under load the table's throughput is above zero and the charts have gained samples.
            browser.until(
                    d -> {
                        String tps = d.findElement(By.cssSelector(row + " td[data-col=\"tps\"]"))
                                .getText();
                        return !tps.equals("–") && Double.parseDouble(tps) > 0 ? tps : null;
                    },
                    "tokens per second above 0 under load");
            browser.text(row + " td[data-col=\"ttft\"]", "\\d+(\\.\\d+)? m?s /");
            browser.until(d -> points("Throughput") > before + 1 ? true : null, "the throughput chart moving");
            browser.screenshot("overview");
        } finally {
            stop.set(true);
            for (Thread t : clients) t.join();
        }
        assertTrue(points("Queue length") > 1, "the queue chart has samples");
        assertTrue(points("KV cache in use") > 1, "the KV chart has samples");
        browser.assertNoConsoleErrors();
    }

    @Test
    @Order(3)
    void registryRegistersPromotesAndSwitchesVersionsWithReasons(AnvilServer server) {
        String model =
                "console-" + Integer.toHexString(ThreadLocalRandom.current().nextInt(1 << 20));
        String file = TestModel.file().toString();
        browser.signInAsAdmin();
        browser.go("registry");
        register(model, "1.0.0", file);
        browser.text("#registry-message", "Registered " + model + "@1.0.0");
        browser.text(cell("1.0.0", "stage"), "NONE");
        browser.text(cell("1.0.0", "architecture"), "llama");

        // The API's validation message appears next to the field it is about.
        register(model, "2.0.0", "/no/such/file.gguf");
        browser.text("#register-path-error", "no file at /no/such/file.gguf");
        assertEquals("true", browser.find("#register-path").getAttribute("aria-invalid"));

        // Promote 1.0.0: the dialog says what happens to traffic and insists on a reason.
        browser.click(cell("1.0.0", "actions") + " button[aria-label=\"Change stage of 1.0.0\"]");
        new Select(browser.find("#stage-target")).selectByValue("PRODUCTION");
        browser.text("#stage-effect", "will serve every request for '" + model + "'");
        browser.click("#dialog-confirm");
        browser.text("#dialog-error", "A reason is required");
        browser.type("#stage-reason", "first release");
        browser.click("#dialog-confirm");
        browser.text(cell("1.0.0", "stage"), "PRODUCTION");
        assertEquals("1.0.0", servedVersion(server, model, "1.0.0"));

        // The promotion loaded 1.0.0: the overview and the registry show that load, every byte of its weights read.
        browser.go("overview");
        browser.text("#overview-loads tr[data-load=\"" + model + "@1.0.0\"] td[data-col=\"phase\"]", "LOADED");
        browser.go("registry/" + model);
        String load = "#registry-loads tr[data-load=\"" + model + "@1.0.0\"]";
        browser.text(load + " td[data-col=\"phase\"]", "LOADED");
        browser.text(load + " td[data-col=\"progress\"]", "100\\.0 % · (\\d+(\\.\\d)? [KMG]iB) of \\1");
        assertEquals("1000", browser.find(load + " progress").getAttribute("value"));
        browser.text(load + " td[data-col=\"took\"]", "^\\d+(\\.\\d+)? m?s$");

        // Blue-green to 1.1.0: the confirmation says the old version stays loaded as standby.
        register(model, "1.1.0", file);
        browser.text(cell("1.1.0", "stage"), "NONE");
        browser.click(cell("1.1.0", "actions") + " button[aria-label=\"Switch traffic to 1.1.0\"]");
        browser.text("#switch-effect", "moves to STAGING and stays loaded");
        browser.type("#switch-reason", "blue-green to 1.1.0");
        browser.click("#dialog-confirm");
        browser.text("#registry-message", model + " now serves 1.1.0; 1.0.0 is the standby");
        browser.text(cell("1.1.0", "stage"), "PRODUCTION");
        browser.text(cell("1.0.0", "stage"), "STAGING");
        assertEquals("1.1.0", servedVersion(server, model, "1.1.0"));

        // The history, newest first, with who and why.
        String history = browser.text("#registry-history", "blue-green to 1.1.0");
        assertTrue(history.indexOf("blue-green to 1.1.0") < history.indexOf("first release"), history);
        assertTrue(history.contains("by " + AnvilServer.ADMIN_USER), history);
        browser.screenshot("registry");

        // Upload a GGUF file from the browser: a progress bar, then the version is registered from the upload.
        browser.type("#upload-model", model + "-up");
        browser.type("#upload-version", "1.0.0");
        browser.find("#upload-file").sendKeys(file);
        browser.click("#upload-submit");
        browser.text("#registry-message", "Uploaded and registered " + model + "-up@1.0.0 \\(llama");
        assertEquals("100", browser.find("#upload-progress").getAttribute("value"));
        browser.text(cell("1.0.0", "sha256"), "\\w{12}");
        browser.assertNoConsoleErrors(REFUSED_400);
    }

    @Test
    @Order(4)
    void aNarrowScreenAndDarkModeKeepTheConsoleUsable(AnvilServer server) {
        // A served version whose name is one long word (as generated names are): it must wrap, not widen the page.
        String longName = "narrow-screen-" + "x".repeat(60);
        TestModel.register(server, longName, "1.0.0");
        TestModel.moveStage(server, longName, "1.0.0", "PRODUCTION", "console narrow screen");
        HttpResult models = Eventually.until(
                () -> server.get("/v1/models"),
                m -> m.status() == 200 && m.body().contains("\"" + longName + "\""),
                Duration.ofSeconds(60));
        assertTrue(models.body().contains(longName), models::toString);
        browser.signInAsAdmin();
        try {
            browser.driver.manage().window().setSize(new Dimension(420, 900));
            browser.go("registry");
            browser.find("#register-form");
            browser.go("overview");
            browser.text("#overview-versions", "stories260k@1.0.0");
            browser.text("#overview-versions", longName);
            // Nothing wider than the screen: wide tables scroll inside their own box.
            assertEquals(
                    Boolean.TRUE,
                    browser.script("return document.documentElement.scrollWidth <= window.innerWidth + 1"),
                    "the page scrolls sideways at 420 px");
            assertTrue(browser.find("#nav").isDisplayed());
            browser.screenshot("overview-narrow");
        } finally {
            browser.driver.manage().window().setSize(new Dimension(1280, 900));
        }
        browser.colorScheme("dark");
        try {
            browser.go("registry");
            browser.text("#registry-models", "stories260k");
            String background = (String) browser.script("return getComputedStyle(document.body).backgroundColor");
            assertEquals("rgb(19, 19, 24)", background, "the dark palette applies");
            browser.screenshot("registry-dark");
        } finally {
            browser.colorScheme("light");
        }
        browser.assertNoConsoleErrors();
    }

    @Test
    @Order(5)
    void signingOutForgetsTheCredentials() {
        browser.signInAsAdmin();
        browser.click("#logout");
        browser.text("#login-error", "You are signed out");
        assertEquals(null, browser.script("return sessionStorage.getItem('anvil.console.session')"));
        browser.go("registry");
        browser.find("#login-form");
        assertTrue(
                browser.driver.findElements(By.cssSelector("#registry-models")).isEmpty());
        browser.assertNoConsoleErrors();
    }

    @Test
    @Order(6)
    void aKeyCreatedInTheGatewayWorksInThePlaygroundUntilItIsRevoked(AnvilServer server) {
        String tenant =
                "console-" + Integer.toHexString(ThreadLocalRandom.current().nextInt(1 << 20));
        browser.signInAsAdmin();
        browser.go("gateway");
        browser.type("#tenant-name", tenant);
        browser.type("#tenant-rpm", "600");
        browser.click("#tenant-submit");
        browser.text("#gateway-message", "Tenant " + tenant + " created");
        browser.text("#gateway-keys h2", "API keys of " + tenant);

        // Edit the tenant: budget, period, limits and audit text, saved through PUT and shown in the list.
        String tenantRow = "#gateway-tenants tr[data-tenant=\"" + tenant + "\"]";
        browser.click(tenantRow + " button[data-edit-tenant]");
        assertEquals("600", browser.find("#edit-rpm").getAttribute("value"), "the dialog starts from the tenant");
        browser.type("#edit-budget", "500000");
        new Select(browser.find("#edit-period")).selectByValue("MONTH");
        browser.type("#edit-tpm", "90000");
        browser.type("#edit-concurrent", "4");
        browser.click("#edit-audit-text");
        browser.click("#dialog-confirm");
        browser.text("#gateway-message", "Tenant " + tenant + " saved");
        browser.text(tenantRow + " td[data-col=\"budget\"]", "500,000 / month");
        browser.text(tenantRow + " td[data-col=\"tpm\"]", "90000");
        browser.text(tenantRow + " td[data-col=\"concurrent\"]", "^4$");
        browser.text(tenantRow + " td[data-col=\"audit\"]", "yes");
        jakarta.json.JsonObject saved =
                server.get("/api/gateway/tenants/" + tenant).json();
        assertEquals(500000, saved.getJsonNumber("tokenBudget").longValue());
        assertEquals("MONTH", saved.getString("budgetPeriod"));
        assertEquals(600, saved.getInt("requestsPerMinute"), "what was not changed is kept");
        assertTrue(saved.getBoolean("auditText"));

        // The secret is shown once, with a copy button.
        browser.type("#key-name", "playground");
        browser.type("#key-models", "stories260k");
        browser.click("#key-submit");
        String secret = browser.text("#key-secret", "^anv-\\S{20,}$");
        browser.click("#key-copy");
        browser.text("#key-copied", "Copied|Selected");
        browser.click("#dialog-confirm");
        String row = "#gateway-keys tr[data-key=\"playground\"]";
        browser.text(row + " td[data-col=\"state\"]", "ACTIVE");
        browser.text(row + " td[data-col=\"prefix\"]", secret.substring(0, 8));
        assertTrue(
                browser.driver.findElement(By.id("gateway-keys")).getText().indexOf(secret) < 0,
                "the listing never shows the secret again");

        // The playground, talking as that key's client: streamed answer with its figures.
        chat("stories260k", null, secret);
        String answer = browser.text(
                ".play-answer[data-index=\"0\"][data-done=\"true\"] dd[data-stat=\"Served by\"]", "stories260k@1.0.0");
        assertEquals("stories260k@1.0.0", answer);
        browser.text(".play-answer[data-index=\"0\"] dd[data-stat=\"Time to first token\"]", "\\d+(\\.\\d+)? m?s");
        browser.text(".play-answer[data-index=\"0\"] dd[data-stat=\"Tokens\"]", "^\\d+$");
        browser.text(".play-answer[data-index=\"0\"] dd[data-stat=\"Cache\"]", "\\S");
        // The answer's trace id (X-Anvil-Trace-Id), the key to its spans in the trace backend.
        browser.text(".play-answer[data-index=\"0\"] dd[data-stat=\"Trace id\"] code", "^[0-9a-f]{32}$");
        assertTrue(
                !browser.find(".play-answer[data-index=\"0\"] .answer")
                        .getText()
                        .isBlank(),
                "an answer was streamed");
        browser.screenshot("playground", "#play-answers");

        // Revoke it (with a confirmation): the playground is refused from then on.
        browser.go("gateway");
        browser.click("#gateway-tenants tr[data-tenant=\"" + tenant + "\"] button");
        browser.text("#gateway-keys h2", "API keys of " + tenant);
        browser.click(row + " button[aria-label=\"Revoke key playground\"]");
        browser.text("#revoke-effect", "get 401 from now on");
        browser.click("#dialog-confirm");
        browser.text("#gateway-message", "Key playground .* is revoked");
        browser.text(row + " td[data-col=\"state\"]", "REVOKED");

        chat("stories260k", null, secret);
        browser.text(".play-answer[data-index=\"0\"][data-done=\"error\"] .error", "HTTP 401");

        // Usage and audit show the tenant's traffic and the key's life.
        browser.go("gateway");
        browser.text("#usage-table", tenant);
        browser.type("#audit-tenant", tenant);
        browser.click("#audit-form button");
        String audit = browser.text("#audit-rows", "key\\.revoke");
        assertTrue(audit.contains("key.create") && audit.contains("tenant.create"), audit);
        browser.text("#audit-page", "Page 1");
        browser.screenshot("gateway");
        browser.screenshot("gateway-usage-audit", "#gateway-usage");
        browser.assertNoConsoleErrors(REFUSED_401);
    }

    @Test
    @Order(7)
    void thePlaygroundComparesTwoVersionsOnTheSamePrompt() {
        browser.signInAsAdmin();
        chat("stories260k", "stories260k@1.0.0", null);
        String first = browser.text(".play-answer[data-index=\"0\"][data-done=\"true\"] .answer", "\\S");
        String second = browser.text(".play-answer[data-index=\"1\"][data-done=\"true\"] .answer", "\\S");
        // Greedy decoding of one version, asked by its name and pinned: the same text side by side.
        assertEquals(first, second);
        browser.text(".play-answer[data-index=\"1\"] dd[data-stat=\"Served by\"]", "stories260k@1.0.0");
        browser.screenshot("playground-compare", "#play-answers");
        browser.assertNoConsoleErrors();
    }

    @Test
    @Order(8)
    void aCanaryIsCreatedStartedWatchedAndRolledBack(AnvilServer server) {
        String model =
                "console-exp-" + Integer.toHexString(ThreadLocalRandom.current().nextInt(1 << 20));
        TestModel.register(server, model, "1.0.0", "1.1.0");
        TestModel.moveStage(server, model, "1.0.0", "PRODUCTION", "baseline");
        String name = model + "-canary";
        browser.signInAsAdmin();
        browser.go("experiments");
        browser.type("#exp-name", name);
        browser.type("#exp-model", model);
        new Select(browser.find("#exp-strategy")).selectByValue("CANARY");
        browser.type("#exp-max-error", "0.5");
        browser.type("#exp-steps", "5,25,50,100");
        browser.type("#exp-v0-version", "1.0.0");
        browser.type("#exp-v0-weight", "90");
        browser.type("#exp-v1-version", "1.1.0");
        browser.type("#exp-v1-weight", "5");
        browser.click("#exp-submit");
        // The API's refusal is shown in the form, where the weights are.
        browser.text("#exp-form .error", "100");
        browser.type("#exp-v0-weight", "95");
        browser.click("#exp-submit");
        browser.text("#experiments-message", "Experiment " + name + " created");
        browser.text("#experiment-detail h2", "DRAFT");

        browser.click("#experiment-actions button[data-action=\"start\"]");
        browser.text("#experiment-effect", "split between the variants");
        browser.click("#dialog-confirm");
        browser.text("#experiment-detail h2", "RUNNING");

        // Traffic for the model: the results fill in as outcomes are recorded.
        for (int i = 0; i < 12; i++) {
            HttpResult r = server.post(
                    "/v1/completions",
                    "{\"model\":\"" + model + "\",\"prompt\":\"Once upon a time\",\"max_tokens\":4,\"user\":\"u" + i
                            + "\"}");
            assertEquals(200, r.status(), r::toString);
        }
        browser.text("#experiment-results tr[data-variant=\"control\"] td[data-col=\"outcomes\"]", "^[1-9]\\d*$");
        browser.text("#experiment-results tr[data-variant=\"control\"] td[data-col=\"errorRate\"]", "0\\.0 % \\[");
        browser.until(
                d -> Integer.parseInt(d.findElement(By.cssSelector("#experiment-results .chart"))
                                        .getAttribute("data-points"))
                                >= 1
                        ? true
                        : null,
                "the error-rate chart with an interval");
        // Latency and TTFT distributions per variant, and the traffic split over time (started at the first step).
        browser.until(
                d -> Integer.parseInt(d.findElement(By.cssSelector("#experiment-latency-distribution"))
                                        .getAttribute("data-points"))
                                > 0
                        ? true
                        : null,
                "the latency distribution with outcomes");
        browser.text("#experiment-results h3", "TTFT distribution");
        browser.until(
                d -> Integer.parseInt(d.findElement(By.cssSelector("#experiment-weights .chart"))
                                        .getAttribute("data-points"))
                                >= 2
                        ? true
                        : null,
                "the weights chart from the start to now");
        browser.text("#experiment-weights", "control");
        browser.screenshot("experiments", "#experiment-results");

        // Rolling back needs a reason; the timeline keeps it.
        browser.click("#experiment-actions button[data-action=\"rollback\"]");
        browser.click("#dialog-confirm");
        browser.text("#dialog-error", "A reason is required");
        browser.type("#experiment-reason", "operator rollback from the console");
        browser.click("#dialog-confirm");
        browser.text("#experiment-detail h2", "ROLLED_BACK");
        browser.text("#experiment-timeline", "operator rollback from the console");
        browser.text("#experiment-timeline li[data-action=\"ROLLED_BACK\"]", "RUNNING → ROLLED_BACK");
        assertTrue(
                browser.driver
                        .findElements(
                                By.cssSelector("#experiment-timeline li[data-action=\"ROLLED_BACK\"] .badge.AUTOMATIC"))
                        .isEmpty(),
                "an operator's rollback is not marked automatic");
        browser.screenshot("experiments-timeline", "#experiment-weights");

        new Select(browser.find("#experiments-status")).selectByValue("RUNNING");
        browser.until(
                d -> d.findElements(By.cssSelector("#experiments-list tr[data-experiment=\"" + name + "\"]"))
                                .isEmpty()
                        ? true
                        : null,
                "the RUNNING filter leaving the rolled-back experiment out");
        new Select(browser.find("#experiments-status")).selectByValue("ROLLED_BACK");
        browser.find("#experiments-list tr[data-experiment=\"" + name + "\"]");
        browser.assertNoConsoleErrors(REFUSED_400);
    }

    @Test
    @Order(9)
    void theDriftViewShowsAVersionsStatisticsAndPinsItsReference(AnvilServer server) {
        // Traffic for stories260k@1.0.0, so its windows hold samples (the overview test sent more).
        for (int i = 0; i < 4; i++) {
            HttpResult r = server.post(
                    "/v1/completions", "{\"model\":\"stories260k\",\"prompt\":\"Once upon a time\",\"max_tokens\":8}");
            assertEquals(200, r.status(), r::toString);
        }
        browser.signInAsAdmin();
        browser.go("drift/stories260k@1.0.0");
        browser.text("#drift-versions tr[data-ref=\"stories260k@1.0.0\"]", "stories260k@1.0.0");
        browser.text("#drift-report h2", "Drift of stories260k@1.0.0");
        String prompt = "#drift-report tr[data-feature=\"prompt_tokens\"]";
        String n = browser.text(prompt + " td[data-col=\"referenceCount\"]", "^[1-9][\\d,]*$");
        int before = Integer.parseInt(n.replace(",", ""));
        browser.text(prompt + " td[data-col=\"psi\"]", "^(–|\\d+\\.\\d{3})$");
        browser.text(prompt + " td[data-col=\"breached\"]", "OK|BREACHED|collecting");
        browser.text("#drift-report", "a feature breaches at PSI ≥");
        // The API says the same.
        jakarta.json.JsonObject report =
                server.get("/api/drift/stories260k/1.0.0").json();
        int apiCount = report.getJsonArray("features").getValuesAs(jakarta.json.JsonObject.class).stream()
                .filter(f -> f.getString("feature").equals("prompt_tokens"))
                .findFirst()
                .orElseThrow()
                .getInt("referenceCount");
        assertTrue(apiCount >= before, "page " + before + ", API " + apiCount);
        browser.screenshot("drift");

        // Pinning the reference: a confirmation, then the reference starts anew from the current window.
        String since = browser.text(
                "#drift-versions tr[data-ref=\"stories260k@1.0.0\"] td[data-col=\"referenceSince\"]", "\\d");
        browser.click("#drift-pin");
        browser.text("#drift-pin-effect", "The current windows become the reference");
        browser.type("#drift-reason", "new traffic mix from the console test");
        browser.click("#dialog-confirm");
        browser.text("#drift-message", "pinned to the traffic of now");
        browser.until(
                d -> d.findElement(
                                        By.cssSelector(
                                                "#drift-versions tr[data-ref=\"stories260k@1.0.0\"] td[data-col=\"referenceSince\"]"))
                                .getText()
                                .equals(since)
                        ? null
                        : true,
                "the reference's start to move");
        browser.assertNoConsoleErrors();
    }

    @Test
    @Order(10)
    void aRouterIsCreatedServedEditedAndDeletedInTheRoutersView(AnvilServer server) {
        String large = "console-large-" + ThreadLocalRandom.current().nextInt(1_000_000);
        String router = "console-auto-" + ThreadLocalRandom.current().nextInt(1_000_000);
        TestModel.register(server, large, "1.0.0");
        TestModel.moveStage(server, large, "1.0.0", "PRODUCTION", "console router test");
        browser.signInAsAdmin();
        browser.go("routers");
        browser.text("#routers-list h2", "Routers");
        browser.click("#router-new");
        browser.type("#router-name", router);
        browser.type("#router-c0-model", "stories260k");
        browser.type("#router-c0-maxMaxTokens", "16");
        browser.type("#router-c1-model", large);
        browser.click("#router-cascade");
        browser.type("#router-logprob", "-0.0001"); // no tiny model's answer reaches it: every cascade escalates
        browser.click("#dialog-confirm");
        browser.text("#routers-message", "Router " + router + " saved");
        String block = "#routers-list .router[data-router=\"" + router + "\"]";
        browser.text(block + " tr[data-candidate=\"stories260k\"]", "max_tokens ≤ 16");
        browser.text(block + " tr[data-candidate=\"" + large + "\"]", "no limit");
        browser.text(block + " [data-col=\"cascade\"]", "escalates on mean logprob ≥ -0.0001, guardrails, JSON");

        // Served: the router is a model name in /v1/models, and a request naming it is routed and escalated.
        HttpResult models = server.get("/v1/models");
        assertTrue(models.body().contains("\"" + router + "\""), models::toString);
        HttpResult routed = server.post(
                "/v1/completions",
                "{\"model\":\"" + router + "\",\"prompt\":\"Once upon a time\",\"max_tokens\":8,\"temperature\":0}");
        assertEquals(200, routed.status(), routed::toString);
        assertEquals(large, routed.headers().firstValue("X-Anvil-Routed-Model").orElse(""), routed::toString);
        assertEquals("escalated", routed.headers().firstValue("X-Anvil-Cascade").orElse(""), routed::toString);

        // The savings table (the usage report's routers section) shows the request and its escalation.
        browser.go("overview");
        browser.go("routers");
        String row = "#routers-savings tr[data-router=\"" + router + "\"]";
        browser.text(row + " td[data-col=\"requests\"]", "^1$");
        browser.text(row + " td[data-col=\"escalations\"]", "^1$");
        browser.text(row + " td[data-col=\"escalationRate\"]", "100.0 %");
        browser.screenshot("routers");

        // Edited: the cheap candidate takes longer answers now; the server checks the whole definition again.
        browser.click("[data-edit-router=\"" + router + "\"]");
        browser.type("#router-c0-maxMaxTokens", "64");
        browser.click("#dialog-confirm");
        browser.text(block + " tr[data-candidate=\"stories260k\"]", "max_tokens ≤ 64");
        assertEquals(
                64,
                server.get("/api/routers/" + router)
                        .json()
                        .getJsonArray("candidates")
                        .getJsonObject(0)
                        .getInt("maxMaxTokens"));

        // A definition the server refuses keeps the dialog open with its message.
        browser.click("[data-edit-router=\"" + router + "\"]");
        browser.type("#router-c1-model", "no-such-model");
        browser.click("#dialog-confirm");
        browser.text("#dialog-error", "not a registered model");
        browser.click("#dialog-cancel");

        // Deleted: gone from the page and from /v1/models.
        browser.click("[data-delete-router=\"" + router + "\"]");
        browser.text("#router-delete-effect", "404 model_not_found");
        browser.click("#dialog-confirm");
        browser.text("#routers-message", "Router " + router + " deleted");
        browser.until(d -> d.findElements(By.cssSelector(block)).isEmpty() ? true : null, "the router's block to go");
        HttpResult after = Eventually.until(
                () -> server.get("/v1/models"), r -> !r.body().contains("\"" + router + "\""), Duration.ofSeconds(10));
        assertTrue(!after.body().contains("\"" + router + "\""), after::toString);
        browser.assertNoConsoleErrors(REFUSED_400);
        TestModel.moveStage(server, large, "1.0.0", "ARCHIVED", "console router test over");
    }

    @Test
    @Order(11)
    void aBatchIsUploadedRunDownloadedAndAnotherCancelledInTheBatchesView(AnvilServer server) throws Exception {
        java.nio.file.Path small = batchFile("console-small", 3, 8);
        browser.signInAsAdmin();
        browser.go("batches");
        browser.find("#batch-file").sendKeys(small.toString());
        browser.click("#batch-submit");
        String created = browser.text("#batches-message", "Batch batch_\\S+ created from console-small");
        String id = created.split(" ")[1];
        browser.text("#batches-list tr[data-batch=\"" + id + "\"]", id);
        browser.text("#batch-detail h2", "Batch " + id);
        browser.text("#batch-progress-text", "3 of 3 lines done \\(3 answered, 0 failed\\)");
        browser.text("#batch-detail .badge", "completed");
        browser.text("#batches-list tr[data-batch=\"" + id + "\"] td[data-col=\"counts\"]", "3 / 0 / 3");
        // The operators' view (no key typed in) names each batch's owner: this one the console's anonymous caller's.
        browser.text("#batches-list tr[data-batch=\"" + id + "\"] td[data-col=\"owner\"]", "^no key$");
        browser.text("#batch-detail tr[data-field=\"Owner\"]", "no key");
        browser.click("#batch-show-output");
        browser.text("#batch-files h3", "Output \\(3 lines\\)");
        browser.text("#batch-files tr[data-line=\"l1\"] td[data-col=\"status\"]", "^200$");
        String href = browser.find("#batch-download").getAttribute("href");
        assertTrue(href.startsWith("blob:"), href);
        // The API agrees: the batch is the console caller's, and its output file holds one answer per line.
        HttpResult batch = server.get("/v1/batches/" + id);
        assertEquals(200, batch.status(), batch::toString);
        assertEquals("completed", batch.json().getString("status"));
        HttpResult output = server.get("/v1/files/" + batch.json().getString("output_file_id") + "/content");
        assertEquals(200, output.status(), output::toString);
        assertEquals(3, output.body().lines().filter(l -> !l.isBlank()).count(), output::toString);
        browser.screenshot("batches");

        // A large batch is cancelled from the page while it runs: its progress rate shows, then it is cancelled.
        java.nio.file.Path large = batchFile("console-large", 300, 96);
        browser.find("#batch-file").sendKeys(large.toString());
        browser.click("#batch-submit");
        String second = browser.text("#batches-message", "Batch batch_\\S+ created from console-large")
                .split(" ")[1];
        browser.text("#batch-detail h2", "Batch " + second);
        browser.text("#batch-rate", "\\d+\\.\\d{2} lines/s");
        browser.click("#batch-cancel");
        browser.text("#batch-cancel-effect", "no further line starts");
        browser.click("#dialog-confirm");
        browser.text("#batches-message", "Batch " + second + " is cancel");
        browser.text("#batch-detail .badge", "^cancelled$");
        HttpResult cancelled = server.get("/v1/batches/" + second);
        assertEquals("cancelled", cancelled.json().getString("status"), cancelled::toString);
        assertTrue(cancelled.json().getJsonObject("request_counts").getInt("completed") < 300, cancelled::toString);

        // With an API key typed in, the page is that key's client: a refused key is /v1's 401, shown in the list,
        // and the admin stays signed in.
        browser.type("#batch-api-key", "anv-not-a-key");
        browser.script("document.getElementById('batch-api-key').dispatchEvent(new Event('change'))");
        browser.text("#batches-error", "incorrect API key provided");
        browser.text("#whoami", AnvilServer.ADMIN_USER);
        browser.assertNoConsoleErrors(REFUSED_401);
    }

    /** A JSONL batch input of {@code lines} greedy chat requests to stories260k, in a temporary file. */
    private static java.nio.file.Path batchFile(String name, int lines, int maxTokens) throws java.io.IOException {
        StringBuilder b = new StringBuilder();
        for (int i = 1; i <= lines; i++) {
            b.append("{\"custom_id\":\"l")
                    .append(i)
                    .append("\",\"method\":\"POST\",\"url\":\"/v1/chat/completions\",")
                    .append("\"body\":{\"model\":\"stories260k\",\"temperature\":0,\"max_tokens\":")
                    .append(maxTokens)
                    .append(",\"messages\":[{\"role\":\"user\",\"content\":\"Tell story ")
                    .append(i)
                    .append("\"}]}}\n");
        }
        java.nio.file.Path dir = java.nio.file.Files.createTempDirectory("anvil-console-batch");
        java.nio.file.Path file = dir.resolve(name + ".jsonl");
        java.nio.file.Files.writeString(file, b.toString());
        return file;
    }

    /** Sends one playground message to {@code model} (and {@code compare}, when given), greedy and seeded. */
    private static void chat(String model, String compare, String apiKey) {
        browser.go("playground");
        browser.until(
                d -> d.findElements(By.cssSelector("#play-model option[value=\"" + model + "\"]"))
                                .isEmpty()
                        ? null
                        : true,
                "the version list");
        new Select(browser.find("#play-model")).selectByValue(model);
        if (compare != null) new Select(browser.find("#play-compare")).selectByValue(compare);
        if (apiKey != null) browser.type("#play-api-key", apiKey);
        browser.type("#play-prompt", "Tell me a story about a cat");
        browser.type("#play-temperature", "0");
        browser.type("#play-max-tokens", "24");
        browser.type("#play-seed", "7");
        browser.click("#play-send");
    }

    private static void register(String model, String version, String path) {
        browser.type("#register-model", model);
        browser.type("#register-version", version);
        browser.type("#register-path", path);
        browser.click("#register-submit");
    }

    private static String cell(String version, String column) {
        return "#registry-detail tr[data-version=\"" + version + "\"] td[data-col=\"" + column + "\"]";
    }

    /** How many samples the overview chart titled {@code title} draws. */
    private static int points(String title) {
        Object n = browser.script(
                "for (const p of document.querySelectorAll('#overview-charts .panel'))"
                        + " if (p.querySelector('h3').textContent.startsWith(arguments[0]))"
                        + " return Number(p.querySelector('.chart').dataset.points || 0); return -1;",
                title);
        return ((Number) n).intValue();
    }

    /** The version that answers a completion for {@code model}, once it is {@code expected} (loading takes a moment). */
    private static String servedVersion(AnvilServer server, String model, String expected) {
        HttpResult r = Eventually.until(
                () -> server.post(
                        "/v1/completions",
                        "{\"model\":\"" + model + "\",\"prompt\":\"Once upon a time\",\"max_tokens\":4}"),
                x -> x.status() == 200 && x.json().getString("model").endsWith("@" + expected),
                Duration.ofSeconds(60));
        String ref = r.json().getString("model");
        return ref.substring(ref.indexOf('@') + 1);
    }
}
