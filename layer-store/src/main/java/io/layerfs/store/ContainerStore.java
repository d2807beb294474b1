package io.layerfs.store;

import io.layerfs.posix.ByteString;
import io.layerfs.posix.Trees;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/** Container records and directories under the store root: {@code containers/<name>/}. */
public final class ContainerStore {
    private static final Pattern VALID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.-]{0,63}");
    private final Path dir;

    public ContainerStore(StoreLayout layout) {
        this.dir = layout.root().resolve("containers");
    }

    public static String checkName(String name) {
        if (!VALID.matcher(name).matches()) {
            throw new StoreException("invalid container name '" + name + "': use letters, digits and _ . - (at most 64)");
        }
        return name;
    }

    public Path dir(String name) {
        return dir.resolve(checkName(name));
    }

    public Path upper(String name) {
        return dir(name).resolve("upper");
    }

    public Path work(String name) {
        return dir(name).resolve("work");
    }

    public Path log(String name) {
        return dir(name).resolve("layerfs.log");
    }

    private Path recordFile(String name) {
        return dir(name).resolve("container.json");
    }

    /** Creates the container's directories and record; fails if the name is taken. */
    public void create(ContainerRecord record) {
        Path d = dir(record.name());
        try {
            Files.createDirectories(dir);
            Files.createDirectory(d);
        } catch (java.nio.file.FileAlreadyExistsException e) {
            throw new StoreException("the name " + record.name() + " is already in use by a container");
        } catch (IOException e) {
            throw new StoreException("cannot create container " + record.name() + ": " + e.getMessage(), e);
        }
        try {
            Files.createDirectory(upper(record.name()));
            Files.createDirectory(work(record.name()));
        } catch (IOException e) {
            throw new StoreException("cannot create container " + record.name() + ": " + e.getMessage(), e);
        }
        save(record);
    }

    /** Writes the record atomically (write a temp file, rename over). */
    public void save(ContainerRecord record) {
        try {
            Path tmp = dir(record.name()).resolve(".container.json." + UUID.randomUUID());
            LayerStore.JSON.writeValue(tmp.toFile(), record);
            Files.move(tmp, recordFile(record.name()), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new StoreException("cannot save container " + record.name() + ": " + e.getMessage(), e);
        }
    }

    public Optional<ContainerRecord> find(String name) {
        if (!VALID.matcher(name).matches() || !Files.exists(recordFile(name))) {
            return Optional.empty();
        }
        try {
            return Optional.of(LayerStore.JSON.readValue(recordFile(name).toFile(), ContainerRecord.class));
        } catch (IOException e) {
            throw new StoreException("container " + name + " has an unreadable record: " + e.getMessage(), e);
        }
    }

    public List<ContainerRecord> list() {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        List<ContainerRecord> out = new ArrayList<>();
        try (Stream<Path> s = Files.list(dir)) {
            for (Path p : s.sorted().toList()) {
                find(p.getFileName().toString()).ifPresent(out::add);
            }
        } catch (IOException e) {
            throw new StoreException("cannot list containers: " + e.getMessage(), e);
        }
        return out;
    }

    /** Deletes the container's upper, work and log, then its record last, so a crash half-way can be resumed. */
    public void delete(String name) {
        Trees.remove(ByteString.of(upper(name)));
        Trees.remove(ByteString.of(work(name)));
        Trees.remove(ByteString.of(log(name)));
        Trees.remove(ByteString.of(recordFile(name)));
        Trees.remove(ByteString.of(dir(name)));
    }
}
