package dev.anvil.registry;

import java.util.List;

/** A request to create an empty model explicitly (registration also creates models on first use). */
public record CreateModelCommand(String name, String description, String owner, List<String> tags) {}
