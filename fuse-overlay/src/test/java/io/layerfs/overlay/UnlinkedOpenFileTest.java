package io.layerfs.overlay;

import io.layerfs.posix.ByteString;
import io.layerfs.posix.Posix;
import io.layerfs.posix.Stat;
import io.layerfs.testing.TestImages;
import jnr.ffi.Memory;
import jnr.ffi.Pointer;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A file unlinked while open lives on through its descriptors: fstat, fchmod, fchown, futimens, the f*xattr calls
 * and an open of /proc/self/fd/N reach it, as on kernel overlayfs, and never the new file that took its name meanwhile. The kernel asks the
 * daemon about such a file by node alone (its old path names the new file), so the dev-fuse binding serves it
 * through a file still open on it. Compared with kernel overlayfs over the same lowers.
 */
class UnlinkedOpenFileTest {

    @Test
    void anUnlinkedOpenFileIsChangedThroughItsDescriptorAndTheNewFileOfItsNameIsLeftAlone() {
        Assumptions.assumeTrue(OverlayConfig.Binding.defaultBinding() == OverlayConfig.Binding.DEV_FUSE,
                "libfuse 2 finds no path for the removed file");
        try (MountFixture ours = new MountFixture(TestImages.kernelFormat());
             KernelOverlay kernel = new KernelOverlay(TestImages.kernelFormat())) {
            List<String> expected = changeAnUnlinkedFile(kernel.mnt());
            assertThat(expected).as("kernel overlayfs").containsExactly(
                    "old: 600 1000:1001 mtime 1600000000 nlink 0 size 8",
                    "old xattrs: [user.later] later=3 old=gone",
                    "new: 640 0:0 [user.new] size 0");
            assertThat(changeAnUnlinkedFile(ours.mnt())).as("layerfs").isEqualTo(expected);
        }
    }

    /** What the old file's descriptor and the new file of its name show after changes through the descriptor. */
    private static List<String> changeAnUnlinkedFile(Path mnt) {
        String f = ByteString.of(mnt.resolve("tmp/f"));
        Posix.close(Posix.open(f, Posix.O_CREAT | Posix.O_EXCL | Posix.O_WRONLY, 0644));
        Posix.lsetxattr(f, "user.old", bytes("1"), 0);
        int fd = Posix.open(f, Posix.O_RDWR, 0);
        try {
            Posix.unlink(f);
            Posix.close(Posix.open(f, Posix.O_CREAT | Posix.O_EXCL | Posix.O_WRONLY, 0640));
            Posix.lsetxattr(f, "user.new", bytes("2"), 0);

            int again = Posix.open("/proc/self/fd/" + fd, Posix.O_WRONLY | Posix.O_APPEND, 0); // opened anew
            try {
                byte[] b = bytes("appended");
                Pointer buf = Memory.allocateDirect(Posix.runtime(), b.length);
                buf.put(0, b, 0, b.length);
                Posix.pwrite(again, buf, b.length, 0);
            } finally {
                Posix.close(again);
            }

            Posix.fchmod(fd, 0600);
            Posix.fchown(fd, 1000, 1001);
            Posix.futimens(fd, 1_500_000_000L, 0, 1_600_000_000L, 0);
            Posix.fsetxattr(fd, "user.later", bytes("3"), 0);
            Posix.fremovexattr(fd, "user.old");
            List<String> seen = new ArrayList<>();
            Stat old = Posix.fstat(fd);
            seen.add("old: " + Integer.toOctalString(old.permissions()) + " " + old.uid() + ":" + old.gid()
                    + " mtime " + old.mtimeSec() + " nlink " + old.nlink() + " size " + old.size());
            seen.add("old xattrs: " + new TreeSet<>(Posix.flistxattr(fd)) + " later="
                    + new String(Posix.fgetxattr(fd, "user.later"), StandardCharsets.ISO_8859_1)
                    + " old=" + (Posix.fgetxattr(fd, "user.old") == null ? "gone" : "left"));
            Stat now = Posix.lstat(f);
            seen.add("new: " + Integer.toOctalString(now.permissions()) + " " + now.uid() + ":" + now.gid() + " "
                    + new TreeSet<>(Posix.llistxattr(f)) + " size " + now.size());
            return seen;
        } finally {
            Posix.close(fd);
        }
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.ISO_8859_1);
    }
}
