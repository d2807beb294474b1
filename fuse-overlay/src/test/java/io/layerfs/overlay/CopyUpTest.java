package io.layerfs.overlay;

import io.layerfs.testing.TestImages;

import io.layerfs.testing.Sh;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;

/** Copy-up through a real mount: when it happens, what it preserves, what it never does. */
class CopyUpTest {
    MountFixture fx;

    @BeforeEach
    void mount() {
        fx = new MountFixture(TestImages.all());
    }

    @AfterEach
    void unmount() {
        fx.close();
    }

    private String upper(String script) {
        return Sh.ok(fx.upper(), script);
    }

    @Test
    void writingALowerFileCopiesItUpAndLeavesTheLowerAlone() throws Exception {
        String lowerBefore = Files.readString(TestImages.app().resolve("etc/motd"));
        fx.sh("echo appended >> etc/motd");
        assertThat(Files.readString(fx.mnt().resolve("etc/motd"))).isEqualTo(lowerBefore + "appended\n");
        assertThat(Files.readString(fx.upper().resolve("etc/motd"))).isEqualTo(lowerBefore + "appended\n");
        assertThat(Files.readString(TestImages.app().resolve("etc/motd"))).isEqualTo(lowerBefore);
        assertThat(upper("ls -A etc")).isEqualTo("motd\n"); // parents first, siblings not copied
    }

    @Test
    void copyUpPreservesOwnerModeTimesAndXattrs() {
        String before = fx.sh("stat -c '%u %g %a %Y %s' features/owned features/xattr-file");
        fx.sh("chmod 0604 features/owned && echo x >> features/xattr-file && touch -m -d @1700000000 features/xattr-file");
        String after = fx.sh("stat -c '%u %g %a %Y %s' features/owned features/xattr-file");
        assertThat(after.split("\n")[0]).isEqualTo(before.split("\n")[0].replace(" 640 ", " 604 "));
        assertThat(upper("stat -c '%u %g %a' features/owned")).isEqualTo("1000 1000 604\n");
        assertThat(fx.sh("getfattr -n user.color --only-values features/xattr-file")).isEqualTo("blue");
        assertThat(upper("getfattr -n user.color --only-values features/xattr-file")).isEqualTo("blue");
        assertThat(upper("stat -c %Y features/xattr-file")).isEqualTo("1700000000\n");
    }

    @Test
    void setuidSurvivesCopyUp() {
        fx.sh("touch -a features/suid-bin");
        assertThat(upper("stat -c %a features/suid-bin")).isEqualTo("4755\n");
        assertThat(fx.sh("stat -c %a features/suid-bin")).isEqualTo("4755\n");
    }

    @Test
    void sparseFileStaysSparse() {
        fx.sh("printf x | dd of=features/sparse bs=1 seek=100 conv=notrunc status=none");
        assertThat(upper("stat -c %s features/sparse")).isEqualTo("16777216\n");
        long kib = Long.parseLong(upper("du -k features/sparse | cut -f1").trim());
        assertThat(kib).isLessThan(1024);
        assertThat(fx.sh("cmp <(dd if=features/sparse bs=1M skip=1 status=none) <(dd if='"
                + TestImages.features().resolve("features/sparse") + "' bs=1M skip=1 status=none) && echo same"))
                .isEqualTo("same\n");
    }

    @Test
    void truncatingOpenCopiesNoData() throws Exception {
        fx.sh("echo short > app/data/big.txt");
        assertThat(Files.readString(fx.upper().resolve("app/data/big.txt"))).isEqualTo("short\n");
        assertThat(Files.size(TestImages.app().resolve("app/data/big.txt"))).isGreaterThan(100_000);
    }

    @Test
    void unlinkLeavesOnlyAWhiteout() {
        fx.sh("rm app/data/big.txt && rm -r usr/share/doc");
        assertThat(upper("find . -mindepth 1 -printf '%y %p\\n' | sort")).isEqualTo(
                "c ./app/data/big.txt\nc ./usr/share/doc\nd ./app\nd ./app/data\nd ./usr\nd ./usr/share\n");
        assertThat(upper("stat -c '%t:%T' app/data/big.txt")).isEqualTo("0:0\n");
        assertThat(Files.exists(fx.mnt().resolve("app/data/big.txt"))).isFalse();
    }

    @Test
    void inodeNumbersStayAcrossCopyUpAndRemount() {
        String before = fx.sh("stat -c %i etc/passwd etc features/hard-a");
        fx.sh("echo x >> etc/passwd && echo y >> features/hard-a");
        assertThat(fx.sh("stat -c %i etc/passwd etc features/hard-a")).isEqualTo(before);
        fx.remount();
        assertThat(fx.sh("stat -c %i etc/passwd etc features/hard-a")).isEqualTo(before);
        assertThat(fx.sh("ls -i -d etc | awk '{print $1}'")).isEqualTo(before.split("\n")[1] + "\n");
    }

    @Test
    void metadataChangesCopyUp() {
        fx.sh("chown 1000:1000 etc/hostname && setfattr -n user.k -v v etc/group && truncate -s 3 etc/profile");
        assertThat(upper("stat -c '%u:%g' etc/hostname")).isEqualTo("1000:1000\n");
        assertThat(upper("getfattr -n user.k --only-values etc/group")).isEqualTo("v");
        assertThat(upper("stat -c %s etc/profile")).isEqualTo("3\n");
    }

    @Test
    void readOnlyHandleSeesDataWrittenAfterCopyUp() {
        // a reader opened on the lower file keeps reading after another writer copies the file up
        String out = fx.sh("exec 3< etc/hostname; echo changed > etc/hostname; cat <&3; exec 3<&-");
        assertThat(out).isEqualTo("changed\n");
    }

    @Test
    void crashLeftoversInWorkAreCleanedAtMount() throws Exception {
        fx.unmount();
        Path leftover = fx.work().resolve("work/#dead");
        Files.writeString(leftover, "partial copy-up");
        fx.mount();
        assertThat(Files.exists(leftover)).isFalse();
    }
}
