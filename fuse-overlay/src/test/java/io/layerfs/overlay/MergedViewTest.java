package io.layerfs.overlay;

import io.layerfs.testing.TestImages;

import io.layerfs.testing.Sh;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

import static org.assertj.core.api.Assertions.assertThat;

/** The read side of the union through a real mount: lookups, merged listings, every whiteout and opaque form. */
class MergedViewTest {
    static MountFixture fx;
    static Path m;

    @BeforeAll
    static void mount() {
        fx = new MountFixture(TestImages.all());
        m = fx.mnt();
    }

    @AfterAll
    static void unmount() {
        fx.close();
    }

    @Test
    void mountIsListedAsLayerfs() {
        assertThat(Mounts.fsType(m)).isEqualTo("fuse.layerfs");
    }

    @Test
    void upperLayersWinAndListingsMerge() throws Exception {
        assertThat(Files.readString(m.resolve("etc/motd"))).contains("LAYER=busybox-app");
        assertThat(fx.sh("ls /proc/self/cwd/etc | sort")).contains("group", "hostname", "motd", "passwd", "profile");
        assertThat(Files.exists(m.resolve("bin/busybox"))).isTrue();
        assertThat(Files.exists(m.resolve("app/bin/hello.sh"))).isTrue();
    }

    @Test
    void kernelWhiteoutHidesLowerFile() {
        assertThat(Files.exists(m.resolve("usr/share/doc/base/README"), LinkOption.NOFOLLOW_LINKS)).isFalse();
        assertThat(fx.sh("ls -A usr/share/doc/base")).isEmpty();
    }

    @Test
    void ociWhiteoutHidesLowerFileAndNeverShows() {
        assertThat(Files.exists(m.resolve("app/data/config.txt"))).isFalse();
        assertThat(fx.sh("ls -A app/data")).isEqualTo("big.txt\n");
        assertThat(Files.exists(m.resolve("app/data/.wh.config.txt"))).isFalse();
    }

    @Test
    void allThreeOpaqueFormsHideLowerContents() {
        assertThat(fx.sh("ls -A var/log")).isEqualTo("app.log\n");          // trusted.overlay.opaque
        assertThat(fx.sh("ls -A app/cache")).isEqualTo("fresh.txt\n");      // .wh..wh..opq
        assertThat(fx.sh("ls -A home/app")).isEqualTo("notes.txt\n");       // user.overlay.opaque
    }

    @Test
    void overlayXattrsAreHiddenUserXattrsShown() {
        assertThat(fx.sh("getfattr -d -m - --absolute-names var/log 2>&1 || true")).doesNotContain("overlay");
        assertThat(fx.sh("getfattr -n user.color --only-values features/xattr-file")).isEqualTo("blue");
        assertThat(fx.sh("getfattr -d -m - features/xattr-dir")).contains("user.kind=\"dir\"");
    }

    @Test
    void symlinksAreReturnedAsSymlinks() throws Exception {
        assertThat(Files.isSymbolicLink(m.resolve("features/abs-link"))).isTrue();
        assertThat(Files.readSymbolicLink(m.resolve("features/abs-link")).toString()).isEqualTo("/etc/hostname");
        assertThat(Files.readSymbolicLink(m.resolve("features/dangling")).toString()).isEqualTo("/nonexistent");
        assertThat(Files.readString(m.resolve("features/link-to-motd"))).contains("LAYER=busybox-app");
    }

    @Test
    void specialFilesKeepTheirType() throws Exception {
        assertThat(fx.sh("stat -c %F features/fifo")).isEqualTo("fifo\n");
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(m.resolve("features/suid-bin"))))
                .isEqualTo("rwxr-xr-x");
        assertThat(fx.sh("stat -c %a features/suid-bin features/sgid-dir features/sticky"))
                .isEqualTo("4755\n2775\n1777\n");
        assertThat(fx.sh("stat -c %u:%g:%a features/owned")).isEqualTo("1000:1000:640\n");
    }

    @Test
    void hardLinksShareAnInodeNumberAndReaddirAgrees() {
        String ino = fx.sh("stat -c %i features/hard-a features/hard-b");
        String[] lines = ino.split("\n");
        assertThat(lines[0]).isEqualTo(lines[1]);
        assertThat(fx.sh("stat -c %h features/hard-a")).isEqualTo("2\n");
        // d_ino from readdir must equal st_ino for every entry
        String dIno = fx.sh("ls -i -1 -A features | awk '{print $1, $2}' | sort");
        String stIno = fx.sh("for f in $(ls -A features); do echo \"$(stat -c %i features/$f) $f\"; done | sort");
        assertThat(dIno).isEqualTo(stIno);
    }

    @Test
    void sparseFileReadsBackWithItsHoles() {
        assertThat(fx.sh("stat -c %s features/sparse")).isEqualTo("16777216\n");
        assertThat(fx.sh("dd if=features/sparse bs=1M skip=4 count=1 status=none | tr -d '\\0' | wc -c")).isEqualTo("0\n");
    }

    @Test
    void nonUtf8AndUtf8NamesRoundTrip() {
        String names = fx.sh("ls features | od -An -c | tr -s ' '");
        assertThat(names).contains("377 376 n a m e"); // bytes 0xff 0xfe then "name"
        assertThat(fx.sh("cat features/$(printf 'h\\303\\251llo-w\\303\\266rld.txt')")).isNotEmpty();
        assertThat(fx.sh("cat \"features/$(printf '\\377\\376name')\"")).isNotEmpty();
    }

    @Test
    void busyboxRunsInTheMergedRootfs() {
        assertThat(Sh.ok("chroot '" + m + "' /bin/sh -c 'echo hi; /app/bin/hello.sh'")).isEqualTo("hi\nhello from layerfs\n");
    }

    @Test
    void nothingWasWrittenByReading() {
        assertThat(fx.sh("find '" + fx.upper() + "' -mindepth 1")).isEmpty();
    }
}
