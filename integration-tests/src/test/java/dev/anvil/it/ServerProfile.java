package dev.anvil.it;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/** Which {@link AnvilServer} a test class runs against ({@link AnvilServerExtension} injects that one). */
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.TYPE)
public @interface ServerProfile {
    AnvilServer.Profile value();
}
