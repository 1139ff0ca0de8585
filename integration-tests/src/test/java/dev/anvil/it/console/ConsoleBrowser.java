package dev.anvil.it.console;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.anvil.it.AnvilServer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.logging.Level;
import java.util.regex.Pattern;
import org.openqa.selenium.By;
import org.openqa.selenium.Dimension;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.StaleElementReferenceException;
import org.openqa.selenium.WebDriver;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.logging.LogEntry;
import org.openqa.selenium.logging.LogType;
import org.openqa.selenium.logging.LoggingPreferences;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * A headless Debian Chromium driven through Debian's chromium-driver (never a downloaded browser or driver), on the
 * admin console of the test server. Missing binaries fail the test with what to install: the browser tests are part
 * of every run ({@code bin/anvil test} installs both as root).
 */
final class ConsoleBrowser implements AutoCloseable {

    static final Path CHROMIUM = Path.of(System.getProperty("anvil.it.chromium", "/usr/bin/chromium"));
    static final Path DRIVER = Path.of(System.getProperty("anvil.it.chromedriver", "/usr/bin/chromedriver"));
    static final Duration WAIT = Duration.ofSeconds(30);

    final ChromeDriver driver;
    private final AnvilServer server;

    private ConsoleBrowser(AnvilServer server, ChromeDriver driver) {
        this.server = server;
        this.driver = driver;
    }

    static ConsoleBrowser open(AnvilServer server) {
        if (!Files.isExecutable(CHROMIUM) || !Files.isExecutable(DRIVER)) {
            fail("the console's browser tests need Debian's chromium and chromium-driver (" + CHROMIUM + ", " + DRIVER
                    + "): apt-get install chromium chromium-driver (bin/anvil test does it when run as root)");
        }
        ChromeOptions options = new ChromeOptions();
        options.setBinary(CHROMIUM.toFile());
        options.addArguments(
                "--headless=new",
                "--no-sandbox", // the tests run as root in CI
                "--disable-dev-shm-usage",
                "--disable-gpu",
                "--no-first-run",
                "--disable-extensions",
                "--window-size=1280,900");
        LoggingPreferences logs = new LoggingPreferences();
        logs.enable(LogType.BROWSER, Level.ALL);
        options.setCapability("goog:loggingPrefs", logs);
        ChromeDriverService service = new ChromeDriverService.Builder()
                .usingDriverExecutable(DRIVER.toFile())
                .usingAnyFreePort()
                .build();
        ChromeDriver driver = new ChromeDriver(service, options);
        driver.manage().window().setSize(new Dimension(1280, 900));
        return new ConsoleBrowser(server, driver);
    }

    /** Opens a console section ({@code overview}, {@code registry}, ...). */
    void go(String section) {
        driver.get(server.uri("/admin/#/" + section).toString());
    }

    WebElement find(String css) {
        return until(
                d -> {
                    List<WebElement> found = d.findElements(By.cssSelector(css));
                    return found.isEmpty() || !found.get(0).isDisplayed() ? null : found.get(0);
                },
                "an element " + css);
    }

    /**
     * Clicks the displayed element {@code css}, found and clicked in one wait: when the page re-renders between
     * finding and clicking (live sections poll the API), the element is looked up again.
     */
    void click(String css) {
        until(
                d -> {
                    List<WebElement> found = d.findElements(By.cssSelector(css));
                    if (found.isEmpty() || !found.get(0).isDisplayed()) return null;
                    found.get(0).click();
                    return Boolean.TRUE;
                },
                "an element " + css + " to click");
    }

    /** Waits until {@code css} shows text matching {@code pattern}; returns that text. */
    String text(String css, String pattern) {
        Pattern p = Pattern.compile(pattern, Pattern.DOTALL);
        return until(
                d -> {
                    List<WebElement> found = d.findElements(By.cssSelector(css));
                    for (WebElement e : found) {
                        String t = e.getText();
                        if (p.matcher(t).find()) return t;
                    }
                    return null;
                },
                css + " showing /" + pattern + "/");
    }

    <T> T until(Function<WebDriver, T> condition, String what) {
        try {
            return new WebDriverWait(driver, WAIT)
                    .withMessage(what)
                    .ignoring(StaleElementReferenceException.class) // the page re-rendered under us: look again
                    .until(condition::apply);
        } catch (org.openqa.selenium.TimeoutException e) {
            throw new AssertionError(
                    "the console did not show " + what + " within " + WAIT + "; page: "
                            + driver.findElement(By.tagName("body")).getText(),
                    e);
        }
    }

    void type(String css, String value) {
        WebElement input = find(css);
        input.clear();
        input.sendKeys(value);
    }

    /** Signs in through the page's form, from a tab that holds no session. */
    void signIn(String user, String password) {
        go("overview");
        driver.executeScript("sessionStorage.clear()");
        driver.navigate().refresh();
        find("#login-form");
        type("#login-user", user);
        type("#login-password", password);
        find("#login-submit").click();
    }

    void signInAsAdmin() {
        signIn(AnvilServer.ADMIN_USER, AnvilServer.PASSWORD);
        text("#whoami", AnvilServer.ADMIN_USER);
    }

    Object script(String js, Object... args) {
        return driver.executeScript(js, args);
    }

    /** The page's console messages at level SEVERE since the last call, except those matching {@code allowed}. */
    void assertNoConsoleErrors(String... allowed) {
        List<String> errors = driver.manage().logs().get(LogType.BROWSER).getAll().stream()
                .filter(e -> e.getLevel().intValue() >= Level.SEVERE.intValue())
                .map(LogEntry::getMessage)
                .filter(m -> List.of(allowed).stream().noneMatch(a -> m.contains(a)))
                .toList();
        assertTrue(errors.isEmpty(), "console errors: " + errors);
    }

    /** Forgets what the page logged so far (each test answers for its own messages). */
    void drainConsole() {
        driver.manage().logs().get(LogType.BROWSER);
    }

    /** Emulates the reader's colour scheme preference (prefers-color-scheme). */
    void colorScheme(String scheme) {
        driver.executeCdpCommand(
                "Emulation.setEmulatedMedia",
                Map.of("features", List.of(Map.of("name", "prefers-color-scheme", "value", scheme))));
    }

    /** Saves a screenshot of the window as docs/console/{name}.png (the H2 run only sets the directory). */
    void screenshot(String name) {
        screenshot(name, null);
    }

    /** A screenshot scrolled to {@code css} (null: the top of the page). */
    void screenshot(String name, String css) {
        String dir = System.getProperty("anvil.it.console.screenshots");
        if (dir == null || dir.isBlank()) return;
        if (css == null) driver.executeScript("window.scrollTo(0, 0)");
        else driver.executeScript("document.querySelector(arguments[0]).scrollIntoView()", css);
        try {
            Path target = Path.of(dir).resolve(name + ".png");
            Files.createDirectories(target.getParent());
            Files.write(target, driver.getScreenshotAs(OutputType.BYTES));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public void close() {
        driver.quit();
    }
}
