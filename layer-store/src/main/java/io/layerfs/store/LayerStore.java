package io.layerfs.store;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.layerfs.layer.LayerTarReader;
import io.layerfs.layer.LayerTarWriter;
import io.layerfs.posix.ByteString;
import io.layerfs.posix.Errno;
import io.layerfs.posix.Posix;
import io.layerfs.posix.Trees;
import org.apache.commons.compress.compressors.gzip.GzipCompressorInputStream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.BufferedInputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestInputStream;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.function.LongConsumer;
import java.util.stream.Stream;

/**
 * The content-addressed layer store: imports layers (directories, tars, gzipped tars), hands out their
 * read-only directories by digest, and removes, collects and verifies them.
 * <p>An import is a transaction: extracted into {@code ingest/}, verified, synced, renamed into
 * {@code layers/} in one step (never replacing an existing layer), so a crash leaves nothing visible and
 * concurrent imports of the same layer end with one copy. Imports and holds take the store lock shared;
 * removal and garbage collection take it exclusive.
 */
public final class LayerStore {
    private static final Logger log = LoggerFactory.getLogger(LayerStore.class);
    private static final int MIN_PREFIX = 12;
    static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private final StoreLayout layout;

    private LayerStore(StoreLayout layout) {
        this.layout = layout;
    }

    /** Opens (creating if needed) the store at {@code root}. */
    public static LayerStore open(Path root) {
        StoreLayout layout = new StoreLayout(root);
        try {
            Files.createDirectories(layout.layers());
            Files.createDirectories(layout.ingest());
            Files.createDirectories(layout.holds());
            Files.createDirectories(layout.images());
        } catch (IOException e) {
            throw new StoreException("cannot create the store at " + layout.root() + ": " + e.getMessage(), e);
        }
        return new LayerStore(layout);
    }

    public StoreLayout layout() {
        return layout;
    }

    // ---------------------------------------------------------------- import

    /** Imports an OCI layer tar, plain or gzip-compressed (detected), from a stream. */
    public Digest importTar(InputStream raw, String source, LongConsumer progress) {
        try (StoreLock lock = StoreLock.shared(layout.lockFile())) {
            Path staging = newStaging();
            try {
                InputStream counted = new CountingInputStream(raw, progress);
                BufferedInputStream in = new BufferedInputStream(counted, 1 << 16);
                InputStream tar = isGzip(in) ? new GzipCompressorInputStream(in, true) : in;
                MessageDigest sha = sha256();
                CountingInputStream size = new CountingInputStream(new DigestInputStream(tar, sha), null);
                LayerTarReader.extract(size, ByteString.of(staging.resolve("diff")));
                return commit(staging, Digest.of(sha.digest()), size.count(), source, false);
            } finally {
                Trees.removeQuietly(ByteString.of(staging));
            }
        } catch (IOException e) {
            throw new StoreException("cannot import " + source + ": " + e.getMessage(), e);
        }
    }

    /**
     * Imports a directory. Its digest is that of its canonical tar ({@link LayerTarWriter}), so exporting the
     * stored layer reproduces the same bytes.
     */
    public Digest importDirectory(Path dir, LongConsumer progress) {
        String real = ByteString.of(dir);
        try (StoreLock lock = StoreLock.shared(layout.lockFile())) {
            Path staging = newStaging();
            try {
                Path tarFile = staging.resolve("layer.tar");
                MessageDigest sha = sha256();
                try (OutputStream out = new DigestOutputStream(Files.newOutputStream(tarFile), sha)) {
                    LayerTarWriter.write(real, out);
                }
                long size = Files.size(tarFile);
                try (InputStream in = new CountingInputStream(Files.newInputStream(tarFile), progress)) {
                    LayerTarReader.extract(in, ByteString.of(staging.resolve("diff")));
                }
                Files.delete(tarFile);
                return commit(staging, Digest.of(sha.digest()), size, dir.toAbsolutePath().toString(), true);
            } finally {
                Trees.removeQuietly(ByteString.of(staging));
            }
        } catch (IOException e) {
            throw new StoreException("cannot import " + dir + ": " + e.getMessage(), e);
        }
    }

    private Path newStaging() throws IOException {
        Path staging = layout.ingest().resolve(UUID.randomUUID().toString());
        Files.createDirectories(staging.resolve("diff"));
        return staging;
    }

    /** Records, syncs and renames a staged layer into place; an existing copy wins and the staging is dropped. */
    private Digest commit(Path staging, Digest digest, long size, String source, boolean canonical) throws IOException {
        Digest content = canonicalDigest(ByteString.of(staging.resolve("diff")));
        if (canonical && !content.equals(digest)) {
            throw new StoreException("layer " + digest + " did not round-trip through its tar (got " + content + ")");
        }
        LayerRecord record = new LayerRecord(digest.toString(), content.toString(), size, Instant.now().toString(), source);
        JSON.writeValue(staging.resolve("layer.json").toFile(), record);
        Posix.syncfs(ByteString.of(staging));
        try {
            Posix.renameat2(ByteString.of(staging), ByteString.of(layout.layer(digest)), Posix.RENAME_NOREPLACE);
            Posix.fsyncDir(ByteString.of(layout.layers()));
            log.info("imported {} from {} ({} bytes)", digest, source, size);
        } catch (Errno e) {
            if (e.errno != Errno.EEXIST && e.errno != Errno.ENOTEMPTY) {
                throw e;
            }
            log.info("{} is already in the store", digest); // a concurrent import got there first
        }
        return digest;
    }

    // ---------------------------------------------------------------- lookups

    /** A full digest, {@code sha256:}-prefixed or not, or a unique prefix of at least 12 hex digits. */
    public Digest resolve(String ref) {
        String hex = ref.startsWith(Digest.ALGORITHM + ":") ? ref.substring(Digest.ALGORITHM.length() + 1) : ref;
        if (!hex.matches("[0-9a-f]+")) {
            throw new StoreException("invalid layer digest '" + ref + "'");
        }
        if (hex.length() < MIN_PREFIX) {
            throw new StoreException("digest prefix '" + ref + "' is too short: give at least " + MIN_PREFIX + " hex digits");
        }
        List<Digest> matches = digests().stream().filter(d -> d.hex().startsWith(hex)).toList();
        if (matches.isEmpty()) {
            throw new StoreException("no layer " + ref + " in the store");
        }
        if (matches.size() > 1) {
            throw new StoreException("digest prefix '" + ref + "' is ambiguous: " + matches.size() + " layers match");
        }
        return matches.get(0);
    }

    public boolean contains(Digest d) {
        return Files.exists(layout.layerRecord(d));
    }

    /** All layers, sorted by digest. */
    public List<Digest> digests() {
        try (Stream<Path> s = Files.list(layout.layers())) {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.matches("[0-9a-f]{64}"))
                    .map(Digest::new).filter(this::contains).sorted().toList();
        } catch (IOException e) {
            throw new StoreException("cannot list layers: " + e.getMessage(), e);
        }
    }

    public LayerRecord record(Digest d) {
        if (!contains(d)) {
            throw new StoreException("no layer " + d + " in the store");
        }
        try {
            return JSON.readValue(layout.layerRecord(d).toFile(), LayerRecord.class);
        } catch (IOException e) {
            throw new StoreException("layer " + d + " has an unreadable record: " + e.getMessage(), e);
        }
    }

    /** The read-only layer directory of a stored layer. */
    public Path path(Digest d) {
        record(d);
        return layout.layerDiff(d);
    }

    /** Writes the layer as an OCI layer tar (canonical form). */
    public void export(Digest d, OutputStream out) {
        try {
            LayerTarWriter.write(ByteString.of(path(d)), out);
        } catch (IOException e) {
            throw new StoreException("cannot export " + d + ": " + e.getMessage(), e);
        }
    }

    // ---------------------------------------------------------------- holds

    /** Marks the layer as in use by {@code holder} (a mount); held layers are not removed. */
    public void hold(Digest d, String holder) {
        try (StoreLock lock = StoreLock.shared(layout.lockFile())) {
            record(d);
            Files.createDirectories(layout.holds(d));
            Files.write(layout.holds(d).resolve(holder), new byte[0]);
        } catch (IOException e) {
            throw new StoreException("cannot hold " + d + ": " + e.getMessage(), e);
        }
    }

    public void release(Digest d, String holder) {
        try {
            Files.deleteIfExists(layout.holds(d).resolve(holder));
        } catch (IOException e) {
            throw new StoreException("cannot release " + d + ": " + e.getMessage(), e);
        }
    }

    public List<String> holders(Digest d) {
        Path dir = layout.holds(d);
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        } catch (IOException e) {
            throw new StoreException("cannot read holds of " + d + ": " + e.getMessage(), e);
        }
    }

    // ---------------------------------------------------------------- images

    public void putImage(ImageRecord image) {
        ImageNames.check(image.name());
        try (StoreLock lock = StoreLock.shared(layout.lockFile())) {
            for (String layer : image.layers()) {
                record(Digest.parse(layer));
            }
            Path tmp = layout.images().resolve("." + image.name() + "." + UUID.randomUUID());
            JSON.writeValue(tmp.toFile(), image);
            Files.move(tmp, layout.image(image.name()), java.nio.file.StandardCopyOption.ATOMIC_MOVE,
                    java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new StoreException("cannot record image " + image.name() + ": " + e.getMessage(), e);
        }
    }

    public Optional<ImageRecord> image(String name) {
        Path p = layout.image(ImageNames.check(name));
        if (!Files.exists(p)) {
            return Optional.empty();
        }
        try {
            return Optional.of(JSON.readValue(p.toFile(), ImageRecord.class));
        } catch (IOException e) {
            throw new StoreException("image " + name + " has an unreadable record: " + e.getMessage(), e);
        }
    }

    public List<ImageRecord> images() {
        try (Stream<Path> s = Files.list(layout.images())) {
            List<ImageRecord> out = new ArrayList<>();
            for (Path p : s.filter(p -> p.getFileName().toString().endsWith(".json")
                    && !p.getFileName().toString().startsWith(".")).sorted().toList()) {
                out.add(JSON.readValue(p.toFile(), ImageRecord.class));
            }
            return out;
        } catch (IOException e) {
            throw new StoreException("cannot list images: " + e.getMessage(), e);
        }
    }

    public void removeImage(String name) {
        try {
            if (!Files.deleteIfExists(layout.image(ImageNames.check(name)))) {
                throw new StoreException("no image " + name + " in the store");
            }
        } catch (IOException e) {
            throw new StoreException("cannot remove image " + name + ": " + e.getMessage(), e);
        }
    }

    // ---------------------------------------------------------------- removal, gc, verify

    /** Removes a layer; refused while a mount holds it or an image uses it. */
    public void remove(Digest d) {
        try (StoreLock lock = StoreLock.exclusive(layout.lockFile())) {
            record(d);
            List<String> holders = holders(d);
            if (!holders.isEmpty()) {
                throw new StoreException("layer " + d.shortHex() + " is in use by " + String.join(", ", holders));
            }
            for (ImageRecord image : images()) {
                if (image.layers().contains(d.toString())) {
                    throw new StoreException("layer " + d.shortHex() + " is used by image " + image.name()
                            + " (remove the image first)");
                }
            }
            discard(layout.layer(d));
        }
    }

    /** What a garbage collection removed. */
    public record GcResult(List<Digest> layers, int abandonedImports) {
    }

    /** Removes layers that no mount holds and no image uses, and leftovers of interrupted imports. */
    public GcResult gc() {
        try (StoreLock lock = StoreLock.exclusive(layout.lockFile())) {
            int abandoned = 0;
            try (Stream<Path> s = Files.list(layout.ingest())) {
                for (Path p : s.toList()) {
                    Trees.remove(ByteString.of(p)); // no import runs while we hold the lock exclusively
                    abandoned++;
                }
            }
            List<String> used = images().stream().flatMap(i -> i.layers().stream()).toList();
            List<Digest> removed = new ArrayList<>();
            for (Digest d : digests()) {
                if (holders(d).isEmpty() && !used.contains(d.toString())) {
                    discard(layout.layer(d));
                    removed.add(d);
                }
            }
            return new GcResult(removed, abandoned);
        } catch (IOException e) {
            throw new StoreException("gc failed: " + e.getMessage(), e);
        }
    }

    /** Moves a layer out of layers/ in one step (it disappears atomically), then deletes it. */
    private void discard(Path layer) {
        Path trash = layout.ingest().resolve("rm-" + UUID.randomUUID());
        Posix.rename(ByteString.of(layer), ByteString.of(trash));
        Trees.remove(ByteString.of(trash));
        Path holds = layout.holds().resolve(layer.getFileName());
        Trees.removeQuietly(ByteString.of(holds));
    }

    /** The result of verifying one layer. */
    public record Verification(Digest digest, boolean ok, String problem) {
    }

    /** Recomputes each layer's content digest from its directory and compares it with the record. */
    public List<Verification> verify(List<Digest> which) {
        List<Verification> out = new ArrayList<>();
        for (Digest d : which) {
            try {
                LayerRecord r = record(d);
                Digest actual = canonicalDigest(ByteString.of(layout.layerDiff(d)));
                out.add(actual.toString().equals(r.contentDigest()) ? new Verification(d, true, null)
                        : new Verification(d, false, "content changed (now " + actual.shortHex() + ")"));
            } catch (RuntimeException e) {
                out.add(new Verification(d, false, e.getMessage()));
            }
        }
        return out;
    }

    /** sha256 of the canonical tar of a layer directory. */
    static Digest canonicalDigest(String dir) {
        MessageDigest sha = sha256();
        try (OutputStream out = new DigestOutputStream(OutputStream.nullOutputStream(), sha)) {
            LayerTarWriter.write(dir, out);
        } catch (IOException e) {
            throw new StoreException("cannot read layer " + dir + ": " + e.getMessage(), e);
        }
        return Digest.of(sha.digest());
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static boolean isGzip(BufferedInputStream in) throws IOException {
        in.mark(2);
        int a = in.read();
        int b = in.read();
        in.reset();
        return a == 0x1f && b == 0x8b;
    }

    /**
     * Counts bytes read, reporting the running total to a progress callback. skip() reads and discards, so
     * a digest computed below this stream sees every byte (tar readers skip padding and unread data).
     */
    static final class CountingInputStream extends FilterInputStream {
        private final LongConsumer progress;
        private long count;

        CountingInputStream(InputStream in, LongConsumer progress) {
            super(in);
            this.progress = progress;
        }

        long count() {
            return count;
        }

        @Override
        public int read() throws IOException {
            int b = super.read();
            if (b >= 0) {
                advance(1);
            }
            return b;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            int n = super.read(b, off, len);
            if (n > 0) {
                advance(n);
            }
            return n;
        }

        @Override
        public long skip(long n) throws IOException {
            byte[] sink = new byte[(int) Math.min(n, 8192)];
            long skipped = 0;
            while (skipped < n) {
                int r = read(sink, 0, (int) Math.min(sink.length, n - skipped));
                if (r < 0) {
                    break;
                }
                skipped += r;
            }
            return skipped;
        }

        private void advance(long n) {
            count += n;
            if (progress != null) {
                progress.accept(count);
            }
        }
    }
}
