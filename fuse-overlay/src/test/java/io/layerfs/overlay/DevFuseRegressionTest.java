package io.layerfs.overlay;

import io.layerfs.posix.ByteString;
import io.layerfs.posix.Posix;
import io.layerfs.testing.TestImages;
import jnr.ffi.LibraryLoader;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Fixed bugs of the dev-fuse binding (the FUSE protocol on /dev/fuse), found by DataIntegrityTest and ConcurrencyTest
 * run with -Dlayerfs.binding=dev-fuse, each reduced to its own test here. These mount dev-fuse whatever the
 * layerfs.binding property says.
 */
class DevFuseRegressionTest {
    static OverlayConfig.Options devFuse() {
        return OverlayConfig.Options.defaults().withBinding(OverlayConfig.Binding.DEV_FUSE);
    }

    MountFixture fx;

    @AfterEach
    void unmount() {
        if (fx != null) {
            ConcurrencyTest.closeWithin(fx, 30);
        }
    }

    /**
     * FIXED: a second open of an upper file while the first is open fails with EIO (ro+ro, rw+rw, rw+ro alike), e.g.
     * {@code echo hi > tmp/f; exec 3<>tmp/f; cat tmp/f} gives "cat: tmp/f: Input/output error"; kernel overlayfs and
     * jnr-fuse read "hi". Cause: DevFuseServer.putPassthrough registers a new backing file
     * (FUSE_DEV_IOC_BACKING_OPEN on this handle's fd) for every open of an upper file, but the kernel keeps one backing
     * file per FUSE inode and refuses an open that brings a different one (fs/fuse/iomode.c: "deny conflicting backing
     * files on same fuse inode", -EBUSY), which the open reports as EIO. Fix: one backing id per node,
     * registered by the first passthrough open with a read-write fd of the upper file (a later writer goes through
     * it too), reused by every later passthrough open, unregistered (BACKING_CLOSE) after the last one is released.
     */
    @Test
    void upperFileOpenedTwice() {
        fx = new MountFixture(TestImages.kernelFormat(), devFuse());
        String f = ByteString.of(fx.mnt().resolve("tmp/f"));
        fx.sh("echo hi > tmp/f");
        int[][] pairs = {{Posix.O_RDONLY, Posix.O_RDONLY}, {Posix.O_RDWR, Posix.O_RDWR}, {Posix.O_RDWR, Posix.O_RDONLY}};
        List<String> results = new ArrayList<>();
        for (int[] p : pairs) {
            int a = Posix.open(f, p[0], 0);
            try {
                int b = Posix.open(f, p[1], 0);
                Posix.close(b);
                results.add("ok");
            } catch (io.layerfs.posix.Errno e) {
                results.add(io.layerfs.posix.Errno.name(e.errno));
            } finally {
                Posix.close(a);
            }
        }
        assertThat(results).as("second open while the first is open: ro+ro, rw+rw, rw+ro").containsExactly("ok", "ok", "ok");
    }

    /**
     * FIXED: a new upper file that gets the inode number of a just-deleted one (ext4 reuses them) can be taken for the
     * deleted file: reading it fails with ENOENT (and a create of its name right after stat said "absent" fails with
     * EEXIST, as ConcurrencyTest saw). Reproduction (a few of every 50 rounds here): create tmp/A, hold its inode in
     * the kernel without opening it (an inotify watch, or any dentry the kernel has not forgotten yet), unlink it,
     * create tmp/B, read tmp/B. Cause: NodeTable.removed drops the path but keeps byUpperIno[ino] -> node while the
     * kernel still holds the node (until FORGET); lookedUp then treats the new file with the reused inode number as
     * another name of that dead node, whose path is the deleted one. Fix: when a node's last name is removed (also by
     * a rename over it), NodeTable drops its upper inode number, so no new file can alias it.
     */
    @Test
    void newFileWithADeletedFilesInodeNumber() throws Exception {
        fx = new MountFixture(TestImages.kernelFormat(), devFuse());
        Inotify in = LibraryLoader.create(Inotify.class).load("c");
        int broken = 0;
        String first = null;
        for (int i = 0; i < 200; i++) {
            java.nio.file.Path a = fx.mnt().resolve("tmp/A" + i);
            java.nio.file.Path b = fx.mnt().resolve("tmp/B" + i);
            Files.writeString(a, "a");
            int ifd = in.inotify_init();
            in.inotify_add_watch(ifd, ByteString.of(a), 0x400); // IN_DELETE_SELF: holds the inode, opens nothing
            Files.delete(a);
            Files.writeString(b, "b");
            String got;
            try {
                got = Files.readString(b, StandardCharsets.US_ASCII);
            } catch (java.io.IOException e) {
                got = e.toString();
            }
            Posix.close(ifd);
            if (!got.equals("b")) {
                broken++;
                first = first == null ? "round " + i + ": " + got : first;
            }
        }
        assertThat(broken).as("rounds where the new file was not readable (first: %s)", first).isZero();
    }

    public interface Inotify {
        int inotify_init();

        int inotify_add_watch(int fd, String path, int mask);
    }

    /**
     * FIXED: with entries added and removed meanwhile, one readdir listed a name twice (always the last entries of
     * /bin here), and stable names were at risk of being skipped. Cause: READDIR(PLUS) offsets were indexes into a
     * listing taken per directory handle, yet the kernel caches listings (FOPEN_CACHE_DIR) per inode, filled by
     * replies of several handles whose snapshots numbered the same entries differently (fuse_add_dirent_to_cache
     * only checks that an entry's offset follows the cached end). Fix: offsets derived from the names
     * (DirSnapshot), so every snapshot agrees on the order.
     */
    @Test
    void readdirUnderChurnListsEveryNameOnce() throws Exception {
        ConcurrencyTest t = new ConcurrencyTest();
        try {
            t.readdirChurn(new MountFixture(TestImages.kernelFormat(), devFuse()));
        } finally {
            t.unmount();
        }
    }
}
