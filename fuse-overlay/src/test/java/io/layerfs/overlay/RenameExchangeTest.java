package io.layerfs.overlay;

import io.layerfs.posix.ByteString;
import io.layerfs.posix.Errno;
import io.layerfs.posix.Posix;
import io.layerfs.testing.Sh;
import io.layerfs.testing.TestImages;
import io.layerfs.testing.TreeSnapshot;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Path;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * renameat2(RENAME_EXCHANGE) through the mount, against kernel overlayfs over the same lowers: the same result, the
 * same merged tree after it, again after a remount, and the kernel mounts the upper layerfs wrote with that tree.
 * Where the kernel says EXDEV (a directory with lower parts, without redirect_dir), layerfs swaps anyway, and the
 * kernel side gets the same swap done with cp -a and rm -rf. libfuse 2 has no rename flags, so dev-fuse only.
 */
class RenameExchangeTest {

    @ParameterizedTest(name = "{0}: {2} <-> {3}")
    @CsvSource(delimiter = '|', value = {
        "upper files            | echo 1 > tmp/a; echo 2 > tmp/b       | tmp/a          | tmp/b",
        "lower files            | true                                 | etc/motd       | app/data/config.txt",
        "lower file, upper dir  | mkdir tmp/d; echo x > tmp/d/f        | etc/hostname   | tmp/d",
        "lower dir, lower file  | true                                 | home/app       | etc/passwd",
        "merged dirs            | echo n > usr/share/doc/new           | usr/share/doc  | var/log",
        "dir with a whiteout    | rm var/log/base.log; mkdir tmp/x; touch tmp/x/y | var/log | tmp/x",
        "dir over lower dir     | mkdir -p tmp/q/app; echo q > tmp/q/app/f | home        | tmp/q",
        "hard links of one file | echo h > tmp/h; ln tmp/h tmp/h2       | tmp/h          | tmp/h2",
        "missing source         | true                                 | tmp/nope       | etc/motd",
    })
    void exchangeMatchesKernelOverlayfs(String name, String setup, String a, String b) {
        try (MountFixture ours = new MountFixture(TestImages.kernelFormat());
             KernelOverlay kernel = new KernelOverlay(TestImages.kernelFormat())) {
            assumeTrue(OverlayConfig.Binding.defaultBinding() == OverlayConfig.Binding.DEV_FUSE, "libfuse 2: no rename flags");
            // the two setups may straddle a second: files they make get one mtime, as the trees compare mtimes
            String settle = "; find . -type f -newermt @1700000001 -exec touch -d @1700000000 {} +";
            ours.sh(setup + settle);
            kernel.sh(setup + settle);
            String kernelResult = exchange(kernel.mnt(), a, b);
            String ourResult = exchange(ours.mnt(), a, b);
            if (kernelResult.equals("EXDEV")) {
                kernel.sh("cp -a '" + a + "' .swap && rm -rf '" + a + "' && cp -a '" + b + "' '" + a + "' && rm -rf '" + b
                        + "' && cp -a .swap '" + b + "' && rm -rf .swap");
                kernelResult = "ok";
            }
            assertThat(ourResult).isEqualTo(kernelResult);
            Map<String, String> expected = TreeSnapshot.of(kernel.mnt(), TreeSnapshot.Options.MERGED);
            assertThat(TreeSnapshot.of(ours.mnt(), TreeSnapshot.Options.MERGED)).isEqualTo(expected);
            ours.remount();
            assertThat(TreeSnapshot.of(ours.mnt(), TreeSnapshot.Options.MERGED)).isEqualTo(expected);
            ours.unmount();
            try (KernelOverlay reader = new KernelOverlay(TestImages.kernelFormat(), ours.upper())) {
                assertThat(TreeSnapshot.of(reader.mnt(), TreeSnapshot.Options.MERGED)).isEqualTo(expected);
            }
        }
    }

    private static String exchange(Path mnt, String a, String b) {
        try {
            Posix.renameat2(ByteString.of(mnt.resolve(a)), ByteString.of(mnt.resolve(b)), Posix.RENAME_EXCHANGE);
            return "ok";
        } catch (Errno e) {
            return Errno.name(e.errno);
        }
    }

    /** Whiteouts never become objects: RENAME_WHITEOUT is EINVAL, as on kernel overlayfs. */
    @org.junit.jupiter.api.Test
    void renameWhiteoutIsRefusedAsByTheKernel() {
        try (MountFixture ours = new MountFixture(TestImages.kernelFormat());
             KernelOverlay kernel = new KernelOverlay(TestImages.kernelFormat())) {
            assumeTrue(OverlayConfig.Binding.defaultBinding() == OverlayConfig.Binding.DEV_FUSE, "libfuse 2: no rename flags");
            for (Path mnt : java.util.List.of(kernel.mnt(), ours.mnt())) {
                Sh.ok(mnt, "echo w > tmp/w");
                try {
                    Posix.renameat2(ByteString.of(mnt.resolve("tmp/w")), ByteString.of(mnt.resolve("tmp/v")),
                            Posix.RENAME_WHITEOUT);
                    throw new AssertionError("RENAME_WHITEOUT succeeded on " + mnt);
                } catch (Errno e) {
                    assertThat(Errno.name(e.errno)).as(mnt.toString()).isEqualTo("EINVAL");
                }
            }
        }
    }
}
