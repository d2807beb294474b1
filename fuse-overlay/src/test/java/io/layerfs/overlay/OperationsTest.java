package io.layerfs.overlay;

import io.layerfs.testing.TestImages;

import io.layerfs.testing.Sh;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Every FUSE operation through a real mount, on new and on lower objects. */
class OperationsTest {
    MountFixture fx;
    Path m;

    @BeforeEach
    void mount() {
        fx = new MountFixture(TestImages.all());
        m = fx.mnt();
    }

    @AfterEach
    void unmount() {
        fx.close();
    }

    private String upper(String script) {
        return Sh.ok(fx.upper(), script);
    }

    @Test
    void createOpenFlags() throws Exception {
        Path f = m.resolve("tmp/new.txt");
        Files.writeString(f, "one\n", StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        assertThatThrownBy(() -> Files.writeString(f, "x", StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE))
                .isInstanceOf(FileAlreadyExistsException.class);
        Files.writeString(f, "two\n", StandardOpenOption.APPEND);
        assertThat(Files.readString(f)).isEqualTo("one\ntwo\n");
        Files.writeString(f, "3\n", StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE);
        assertThat(Files.readString(f)).isEqualTo("3\n");
        assertThat(fx.sh("umask 027; touch tmp/masked; stat -c %a tmp/masked")).isEqualTo("640\n");
    }

    @Test
    void appendToLowerFile() throws Exception {
        long size = Files.size(m.resolve("app/data/big.txt"));
        Files.writeString(m.resolve("app/data/big.txt"), "tail", StandardOpenOption.APPEND);
        assertThat(Files.size(m.resolve("app/data/big.txt"))).isEqualTo(size + 4);
    }

    @Test
    void randomAccessReadWriteTruncate() throws Exception {
        Path f = m.resolve("app/data/big.txt");
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.wrap("HELLO".getBytes(StandardCharsets.US_ASCII)), 1000);
            ByteBuffer back = ByteBuffer.allocate(5);
            ch.read(back, 1000);
            assertThat(new String(back.array(), StandardCharsets.US_ASCII)).isEqualTo("HELLO");
            ch.truncate(2000);
            ch.force(true);
        }
        assertThat(Files.size(f)).isEqualTo(2000);
        fx.sh("truncate -s 10 app/data/big.txt");
        assertThat(Files.size(f)).isEqualTo(10);
    }

    @Test
    void mkdirAndRmdirJudgeEmptinessOnTheMergedView() throws Exception {
        Files.createDirectory(m.resolve("newdir"));
        Files.delete(m.resolve("newdir"));
        // /usr/share/doc/base is empty in the merged view (its README is whited out) but not in the lower
        Files.delete(m.resolve("usr/share/doc/base"));
        assertThat(Files.exists(m.resolve("usr/share/doc/base"))).isFalse();
        assertThatThrownBy(() -> Files.delete(m.resolve("etc"))).isInstanceOf(DirectoryNotEmptyException.class);
        fx.sh("rm etc/* && rmdir etc");
        assertThat(Files.exists(m.resolve("etc"))).isFalse();
        assertThat(upper("stat -c %F etc")).isEqualTo("character special file\n");
    }

    @Test
    void recreatedDirectoryIsOpaque() {
        fx.sh("rm -r var/log && mkdir var/log && touch var/log/new");
        assertThat(fx.sh("ls -A var/log")).isEqualTo("new\n");
        assertThat(upper("getfattr -n trusted.overlay.opaque --only-values var/log")).isEqualTo("y");
        fx.remount();
        assertThat(fx.sh("ls -A var/log")).isEqualTo("new\n");
    }

    @Test
    void recreatedFileReplacesWhiteout() throws Exception {
        fx.sh("rm etc/motd && echo again > etc/motd");
        assertThat(Files.readString(m.resolve("etc/motd"))).isEqualTo("again\n");
        assertThat(upper("stat -c %F etc/motd")).isEqualTo("regular file\n");
    }

    /** fsync(2) of a directory: an upper one, a merged one, one only in a lower, and the root. */
    @Test
    void fsyncOfDirectories() {
        fx.sh("mkdir tmp/new && touch etc/new");
        assertThat(fx.sh("python3 -c 'import os\nfor d in (\"tmp/new\", \"etc\", \"usr\", \".\"):\n"
                + "    fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY); os.fsync(fd); os.close(fd); print(d)'"))
                .isEqualTo("tmp/new\netc\nusr\n.\n");
    }

    /** Whiteouts are links of one whiteout in the work directory, as overlayfs makes them; a lost one is made again. */
    @Test
    void whiteoutsAreLinksOfOneSharedWhiteout() throws Exception {
        fx.sh("rm etc/motd etc/hostname");
        assertThat(upper("stat -c '%F %t,%T %h' etc/motd etc/hostname")).isEqualTo("""
                character special file 0,0 3
                character special file 0,0 3
                """);
        assertThat(upper("stat -c %i etc/motd etc/hostname | uniq | wc -l")).isEqualTo("1\n");
        Path shared = fx.work().resolve(OverlayFs.SCRATCH_DIR + "/#whiteout");
        assertThat(Files.readAttributes(shared, "unix:ino")).isEqualTo(Files.readAttributes(fx.upper().resolve("etc/motd"), "unix:ino"));
        Files.delete(shared);
        fx.sh("rm etc/passwd");
        assertThat(upper("stat -c '%F %t,%T %h' etc/passwd")).isEqualTo("character special file 0,0 2\n");
        fx.remount();
        assertThat(fx.sh("ls etc")).doesNotContain("motd", "hostname", "passwd");
    }

    @Test
    void symlinkReadlinkLinkMknod() throws Exception {
        fx.sh("ln -s ../etc/hostname tmp/l && ln etc/passwd tmp/hard && mkfifo tmp/fifo && mknod tmp/null c 1 3");
        assertThat(Files.readSymbolicLink(m.resolve("tmp/l")).toString()).isEqualTo("../etc/hostname");
        assertThat(Files.readString(m.resolve("tmp/l"))).isEqualTo("layerfs-demo\n");
        assertThat(Files.readString(m.resolve("tmp/hard"))).isEqualTo(Files.readString(m.resolve("etc/passwd")));
        assertThat(upper("stat -c %h etc/passwd")).isEqualTo("2\n");
        assertThat(fx.sh("stat -c %F tmp/fifo")).isEqualTo("fifo\n");
        assertThat(fx.sh("stat -c '%F %t,%T' tmp/null")).isEqualTo("character special file 1,3\n");
        assertThat(fx.sh("echo data > tmp/null && echo ok")).isEqualTo("ok\n");
    }

    @Test
    void renameFiles() throws Exception {
        fx.sh("mv etc/motd etc/motd.old && echo new > tmp/a && mv tmp/a tmp/b && mv tmp/b etc/hostname");
        assertThat(Files.readString(m.resolve("etc/hostname"))).isEqualTo("new\n");
        assertThat(Files.exists(m.resolve("etc/motd"))).isFalse();
        assertThat(Files.readString(m.resolve("etc/motd.old"))).contains("LAYER=busybox-app");
        assertThat(upper("stat -c %F etc/motd")).isEqualTo("character special file\n");
    }

    @Test
    void renameLowerDirectoryWorksWithoutExdev() throws Exception {
        String before = fx.sh("cd app && find . | sort && cat bin/hello.sh");
        fx.sh("rm app/data/big.txt && touch app/newfile");
        Sh.ok("python3 -c \"import os; os.rename('" + m.resolve("app") + "', '" + m.resolve("app2") + "')\"");
        assertThat(Files.exists(m.resolve("app"))).isFalse();
        assertThat(fx.sh("cd app2 && find . | sort")).contains("./bin/hello.sh", "./newfile", "./cache/fresh.txt")
                .doesNotContain("big.txt", "stale.tmp", "config.txt");
        assertThat(Files.readString(m.resolve("app2/bin/hello.sh"))).contains("hello from layerfs");
        assertThat(before).contains("hello from layerfs");
        fx.remount();
        assertThat(fx.sh("cd app2 && find . | sort")).contains("./bin/hello.sh", "./newfile").doesNotContain("big.txt");
        assertThat(Files.exists(m.resolve("app"))).isFalse();
    }

    @Test
    void renameDirectoryOverEmptyLowerDirectory() throws Exception {
        fx.sh("mkdir -p tmp/src/sub && touch tmp/src/sub/f && rm -r usr/share/doc/base");
        fx.sh("mkdir usr/share/doc/base"); // opaque, empty
        fx.sh("python3 -c \"import os; os.rename('tmp/src', 'home')\" 2>&1 || true");
        assertThat(fx.sh("ls -A home")).isEqualTo("app\n"); // home is not empty: rename refused
        fx.sh("python3 -c \"import os; os.rename('tmp/src', 'usr/share/doc/base')\"");
        assertThat(fx.sh("find usr/share/doc/base | sort")).isEqualTo(
                "usr/share/doc/base\nusr/share/doc/base/sub\nusr/share/doc/base/sub/f\n");
    }

    @Test
    void renameOfADirectoryOntoAWhiteout() {
        fx.sh("rm -r var/log && mkdir tmp/d && touch tmp/d/x && mv tmp/d var/log");
        assertThat(fx.sh("ls -A var/log")).isEqualTo("x\n");
        assertThat(fx.sh("ls -A tmp")).isEmpty();
    }

    @Test
    void chmodChownUtimens() {
        fx.sh("chmod 700 etc/profile && chown 1000:1000 etc/profile && touch -m -d @1234567890 etc/profile");
        assertThat(fx.sh("stat -c '%a %u %g %Y' etc/profile")).isEqualTo("700 1000 1000 1234567890\n");
        String atime = fx.sh("stat -c %X etc/profile");
        fx.sh("touch -a -d @1111111111 etc/profile");
        assertThat(fx.sh("stat -c '%X %Y' etc/profile")).isEqualTo("1111111111 1234567890\n");
        assertThat(atime).isNotEqualTo("1111111111\n");
    }

    @Test
    void chmodThroughAnAbsoluteSymlinkInsideTheRootfsChangesTheRootfsFile() {
        // chroot, so /etc/hostname resolves inside the merged view (outside it would be the host's own file)
        String hostMode = Sh.ok("stat -c %a /etc/hostname");
        Sh.ok("chroot '" + m + "' /bin/chmod 600 /features/abs-link");
        assertThat(fx.sh("stat -c %a etc/hostname")).isEqualTo("600\n");
        assertThat(fx.sh("stat -c %a features/abs-link; readlink features/abs-link")).isEqualTo("777\n/etc/hostname\n");
        assertThat(Sh.ok("stat -c %a /etc/hostname")).isEqualTo(hostMode);
    }

    @Test
    void xattrsSetGetRemoveAndOverlayNamesRefused() {
        fx.sh("setfattr -n user.a -v 1 etc/hostname && setfattr -x user.color features/xattr-file");
        assertThat(fx.sh("getfattr -n user.a --only-values etc/hostname")).isEqualTo("1");
        assertThat(fx.shResult("getfattr -n user.color features/xattr-file").exit()).isNotZero();
        assertThat(fx.shResult("setfattr -n trusted.overlay.opaque -v y etc").exit()).isNotZero();
        assertThat(fx.shResult("setfattr -x user.missing etc/group").exit()).isNotZero();
        assertThat(Files.exists(fx.upper().resolve("etc/group"))).isFalse(); // a failed removal copies nothing up
    }

    @Test
    void statfsFsyncAndAccess() {
        assertThat(fx.sh("stat -f -c %b .")).isNotEqualTo("0\n");
        fx.sh("dd if=/dev/zero of=tmp/z bs=64k count=16 conv=fsync status=none && sync tmp/z");
        assertThat(fx.sh("stat -c %s tmp/z")).isEqualTo("1048576\n");
        assertThat(fx.sh("test -r etc/passwd && test -x bin/busybox && echo yes")).isEqualTo("yes\n");
    }

    @Test
    void unlinkedOpenFileKeepsWorking() {
        String out = fx.sh("exec 3<>tmp/f; echo hello >&3; rm tmp/f; echo more >&3; cat /proc/self/fd/3 2>/dev/null;"
                + " cat <&3; exec 3>&-; ls -A tmp");
        assertThat(fx.sh("ls -A tmp")).isEmpty();
        assertThat(fx.sh("find '" + fx.upper() + "' -name '.fuse_hidden*'")).isEmpty();
        assertThat(out).doesNotContain(".fuse_hidden");
    }

    @Test
    void reservedWhiteoutNamesCannotBeCreated() {
        assertThat(fx.shResult("touch tmp/.wh.foo").exit()).isNotZero();
        assertThat(fx.shResult("mkdir tmp/.wh..wh..opq").exit()).isNotZero();
    }

    @Test
    void setgidDirectoryPassesItsGroup() throws IOException {
        fx.sh("chown 0:1000 features/sgid-dir && mkdir features/sgid-dir/sub && touch features/sgid-dir/f");
        assertThat(fx.sh("stat -c '%g %a' features/sgid-dir/sub features/sgid-dir/f"))
                .isEqualTo("1000 2755\n1000 644\n");
    }
}
