package io.layerfs.posix;

import io.layerfs.testing.Sh;
import jnr.ffi.Memory;
import jnr.ffi.Pointer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assumptions.assumeThat;

/**
 * Every path wrapper of {@link Posix} on paths longer than PATH_MAX (walked in pieces with *at() calls), checked
 * against the same call on a short path to the same place: the same result, the same errno, the same object
 * changed, the same symlink semantics (leading components followed, the last one as the plain call does).
 */
class PosixLongPathTest {
    /** A 200-byte name; one of them below has a byte that is not ASCII (names are bytes). */
    static final String SEG = "d".repeat(200);
    static final int SEGMENTS = 45; // ~9000 bytes: three pieces of a walk

    String base;
    /** The deep directory, by its long real path (over 9000 bytes). */
    String deep;
    /** The same directory by a short path: three symlinks, each skipping 15 levels. */
    String alias;

    @BeforeEach
    void setUp() throws IOException {
        base = ByteString.of(Files.createTempDirectory("layerfs-longpath"));
        StringBuilder path = new StringBuilder(base);
        StringBuilder hop = new StringBuilder();
        String hopFrom = base;
        StringBuilder aliasPath = new StringBuilder(base);
        for (int i = 1; i <= SEGMENTS; i++) {
            String seg = i == 7 ? SEG.substring(1) + "\u00ff" : SEG;
            path.append('/').append(seg);
            Posix.mkdir(path.toString(), 0755);
            hop.append(hop.length() == 0 ? "" : "/").append(seg);
            if (i % 15 == 0) { // a relative symlink to 15 levels further down, so alias/hop1/hop2/hop3 is short
                String name = "hop" + (i / 15);
                Posix.symlink(hop.toString(), hopFrom + "/" + name);
                aliasPath.append('/').append(name);
                hopFrom = path.toString();
                hop.setLength(0);
            }
        }
        deep = path.toString();
        alias = aliasPath.toString();
        assertThat(deep.length()).isGreaterThan(2 * LongPath.PATH_MAX);
        assertThat(alias.length()).isLessThan(200);
        assertThat(Posix.lstat(alias + "/").ino()).isEqualTo(Posix.lstat(deep).ino());
    }

    @AfterEach
    void tearDown() {
        Sh.run(null, "rm -rf '" + base + "'");
    }

    private static String outcome(Runnable r) {
        try {
            r.run();
            return "ok";
        } catch (Errno e) {
            return Errno.name(e.errno);
        }
    }

    private static String describe(Stat st) {
        return st == null ? "absent" : Integer.toOctalString(st.mode()) + " " + st.uid() + ":" + st.gid() + " size="
                + st.size() + " nlink=" + st.nlink() + " mtime=" + st.mtimeSec() + "." + st.mtimeNsec();
    }

    private static Set<String> names(String dir) {
        return Posix.list(dir).stream().map(DirEntry::name).collect(Collectors.toCollection(TreeSet::new));
    }

    private static String read(String path) {
        int fd = Posix.open(path, Posix.O_RDONLY, 0);
        try {
            Pointer buf = Memory.allocateDirect(Posix.runtime(), 100);
            byte[] b = new byte[(int) Posix.pread(fd, buf, 100, 0)];
            buf.get(0, b, 0, b.length);
            return new String(b, StandardCharsets.ISO_8859_1);
        } finally {
            Posix.close(fd);
        }
    }

    private static void write(String path, String content, int mode) {
        int fd = Posix.open(path, Posix.O_WRONLY | Posix.O_CREAT | Posix.O_TRUNC, mode);
        try {
            byte[] b = content.getBytes(StandardCharsets.ISO_8859_1);
            Pointer buf = Memory.allocateDirect(Posix.runtime(), b.length);
            buf.put(0, b, 0, b.length);
            Posix.pwrite(fd, buf, b.length, 0);
        } finally {
            Posix.close(fd);
        }
    }

    @Test
    void everyWrapperWorksOnALongPathAndActsOnTheSameObject() {
        String l = deep;
        String s = alias;
        Posix.mkdir(l + "/dir", 0750);
        assertThat(Posix.lstat(s + "/dir").isDir()).isTrue();
        write(l + "/file", "hello long path", 0640);
        assertThat(read(s + "/file")).isEqualTo("hello long path");
        assertThat(read(l + "/file")).isEqualTo("hello long path");
        assertThat(describe(Posix.lstat(l + "/file"))).isEqualTo(describe(Posix.lstat(s + "/file")));
        assertThat(Posix.lstat(l + "/file").ino()).isEqualTo(Posix.lstat(s + "/file").ino());
        Pointer st = Memory.allocateDirect(Posix.runtime(), Stat.SIZE);
        Posix.lstatInto(l + "/file", st);
        assertThat(st.getLong(Stat.OFF_INO)).isEqualTo(Posix.lstat(s + "/file").ino());
        assertThat(Posix.exists(l + "/file")).isTrue();
        assertThat(Posix.exists(l + "/missing")).isFalse();
        assertThat(Posix.lstatOrNull(l + "/missing")).isNull();

        Posix.access(l + "/file", Posix.R_OK | Posix.W_OK);
        assertThat(outcome(() -> Posix.access(l + "/missing", Posix.F_OK))).isEqualTo("ENOENT");
        Posix.chmod(l + "/file", 0604);
        assertThat(Posix.lstat(s + "/file").permissions()).isEqualTo(0604);
        Posix.lutimens(l + "/file", 1000, 5, 2000, 6);
        assertThat(Posix.lstat(s + "/file").mtimeSec()).isEqualTo(2000);
        assertThat(Posix.lstat(s + "/file").mtimeNsec()).isEqualTo(6);
        Posix.truncate(l + "/file", 5);
        assertThat(read(s + "/file")).isEqualTo("hello");
        if (Posix.isRoot()) {
            Posix.lchown(l + "/file", 1234, 5678);
            assertThat(Posix.lstat(s + "/file").uid()).isEqualTo(1234);
            assertThat(Posix.lstat(s + "/file").gid()).isEqualTo(5678);
        }

        Pointer vfsLong = Memory.allocateDirect(Posix.runtime(), 112);
        Pointer vfsShort = Memory.allocateDirect(Posix.runtime(), 112);
        Posix.statvfsInto(l, vfsLong);
        Posix.statvfsInto(s, vfsShort);
        assertThat(vfsLong.getLong(0)).isEqualTo(vfsShort.getLong(0)); // f_bsize
        assertThat(vfsLong.getLong(16)).isEqualTo(vfsShort.getLong(16)); // f_blocks
        assertThat(vfsLong.getLong(0)).isPositive();

        Posix.symlink("some/target", l + "/link");
        assertThat(Posix.readlink(s + "/link")).isEqualTo("some/target");
        assertThat(Posix.readlink(l + "/link")).isEqualTo("some/target");
        Posix.link(l + "/file", l + "/hard");
        assertThat(Posix.lstat(s + "/file").nlink()).isEqualTo(2);
        Posix.rename(l + "/hard", l + "/renamed");
        assertThat(names(s)).contains("renamed").doesNotContain("hard");
        // long to short and back
        Posix.rename(l + "/renamed", base + "/out");
        assertThat(Posix.lstat(base + "/out").ino()).isEqualTo(Posix.lstat(s + "/file").ino());
        Posix.renameat2(base + "/out", l + "/back", Posix.RENAME_NOREPLACE);
        assertThat(outcome(() -> Posix.renameat2(l + "/back", l + "/file", Posix.RENAME_NOREPLACE))).isEqualTo("EEXIST");
        Posix.mkdir(base + "/shortdir", 0700);
        Posix.renameat2(base + "/shortdir", l + "/dir", Posix.RENAME_EXCHANGE);
        assertThat(Posix.lstat(base + "/shortdir").permissions()).isEqualTo(0750);
        assertThat(Posix.lstat(s + "/dir").permissions()).isEqualTo(0700);

        Posix.mknod(l + "/fifo", Stat.S_IFIFO | 0644, 0);
        assertThat(Posix.lstat(s + "/fifo").type()).isEqualTo(Stat.S_IFIFO);
        assertThat(names(l)).isEqualTo(names(s)).containsExactly("back", "dir", "fifo", "file", "link");
        assertThat(Posix.list(l).stream().filter(e -> e.name().equals("file")).findFirst().orElseThrow().ino())
                .isEqualTo(Posix.lstat(s + "/file").ino());

        Posix.lsetxattr(l + "/file", "user.long", "value".getBytes(StandardCharsets.US_ASCII), 0);
        assertThat(Posix.lgetxattr(s + "/file", "user.long")).asString().isEqualTo("value");
        assertThat(Posix.lgetxattr(l + "/file", "user.long")).asString().isEqualTo("value");
        assertThat(Posix.llistxattr(l + "/file")).isEqualTo(Posix.llistxattr(s + "/file")).contains("user.long");
        assertThat(Posix.lgetxattr(l + "/file", "user.none")).isNull();
        assertThat(outcome(() -> Posix.lsetxattr(l + "/file", "user.long", new byte[]{1}, Posix.XATTR_CREATE)))
                .isEqualTo("EEXIST");
        // bigger than the first buffer tried: a 1000-byte value, and a list of 20 long names
        byte[] big = "0123456789".repeat(100).getBytes(StandardCharsets.US_ASCII);
        Posix.lsetxattr(l + "/file", "user.big", big, 0);
        assertThat(Posix.lgetxattr(l + "/file", "user.big")).isEqualTo(big);
        assertThat(Posix.lgetxattr(s + "/file", "user.big")).isEqualTo(big);
        Posix.lremovexattr(l + "/file", "user.big");
        List<String> many = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            many.add("user.a-rather-long-attribute-name-" + i);
            Posix.lsetxattr(l + "/file", many.get(i), new byte[]{'v'}, 0);
        }
        assertThat(Posix.llistxattr(l + "/file")).isEqualTo(Posix.llistxattr(s + "/file")).containsAll(many);
        for (String n : many) {
            Posix.lremovexattr(s + "/file", n);
        }
        Posix.lremovexattr(l + "/file", "user.long");
        assertThat(Posix.lgetxattr(s + "/file", "user.long")).isNull();
        assertThat(outcome(() -> Posix.lremovexattr(l + "/file", "user.long"))).isEqualTo("ENODATA");

        Posix.syncfs(l);
        Posix.fsyncDir(l);
        Posix.unlink(l + "/back");
        Posix.unlink(l + "/fifo");
        Posix.rmdir(l + "/dir");
        assertThat(outcome(() -> Posix.rmdir(l + "/file"))).isEqualTo("ENOTDIR");
        assertThat(names(s)).containsExactly("file", "link");
        assertThat(Posix.lstat(s + "/file").nlink()).isEqualTo(1);
    }

    /**
     * The same script of calls on a long path and on a short path to a copy of the same objects: outcomes
     * (errno names) and the resulting objects must be identical, so following or not following symlinks,
     * trailing slashes and errors are the plain calls' own.
     */
    private List<String> script(String d) {
        List<String> out = new ArrayList<>();
        write(d + "/f", "data", 0644);
        Posix.symlink("f", d + "/lf");
        Posix.mkdir(d + "/sub", 0755);
        write(d + "/sub/inner", "x", 0644);
        Posix.symlink("sub", d + "/ld");
        Posix.lutimens(d + "/f", 100, 0, 100, 0);
        out.add("lstat lf " + Posix.lstat(d + "/lf").isSymlink());
        out.add("chmod lf " + outcome(() -> Posix.chmod(d + "/lf", 0600)) + " f " + Posix.lstat(d + "/f").permissions());
        if (Posix.isRoot()) {
            out.add("lchown lf " + outcome(() -> Posix.lchown(d + "/lf", 7, 8)) + " lf " + Posix.lstat(d + "/lf").uid()
                    + " f " + Posix.lstat(d + "/f").uid());
            out.add("setxattr trusted lf " + outcome(() -> Posix.lsetxattr(d + "/lf", "trusted.t", new byte[]{'v'}, 0))
                    + " " + Posix.llistxattr(d + "/lf") + " f " + Posix.llistxattr(d + "/f"));
        }
        out.add("utimens lf " + outcome(() -> Posix.lutimens(d + "/lf", 5, 0, 5, 0)) + " lf "
                + Posix.lstat(d + "/lf").mtimeSec() + " f " + Posix.lstat(d + "/f").mtimeSec());
        out.add("setxattr user lf " + outcome(() -> Posix.lsetxattr(d + "/lf", "user.u", new byte[]{'v'}, 0)));
        out.add("getxattr lf " + (Posix.lgetxattr(d + "/lf", "user.u") == null));
        out.add("truncate lf " + outcome(() -> Posix.truncate(d + "/lf", 2)) + " f " + Posix.lstat(d + "/f").size());
        out.add("access lf " + outcome(() -> Posix.access(d + "/lf", Posix.W_OK)));
        out.add("open nofollow lf " + outcome(() -> Posix.close(Posix.open(d + "/lf", Posix.O_RDONLY | Posix.O_NOFOLLOW, 0))));
        out.add("open lf " + outcome(() -> Posix.close(Posix.open(d + "/lf", Posix.O_RDONLY, 0))));
        out.add("open dir of lf " + outcome(() -> Posix.open(d + "/lf", Posix.O_RDONLY | Posix.O_DIRECTORY, 0)));
        out.add("create excl f " + outcome(() -> Posix.open(d + "/f", Posix.O_WRONLY | Posix.O_CREAT | Posix.O_EXCL, 0600)));
        out.add("list ld " + outcome(() -> out.add("names " + names(d + "/ld"))));
        out.add("list lf " + outcome(() -> Posix.list(d + "/lf")));
        out.add("lstat f/ " + outcome(() -> Posix.lstat(d + "/f/")));
        out.add("lstatOrNull f/x " + Posix.lstatOrNull(d + "/f/x"));
        out.add("lstat ld/inner " + outcome(() -> Posix.lstat(d + "/ld/inner")));
        out.add("lstat ld/../f " + Posix.lstat(d + "/ld/../f").isRegular());
        out.add("mkdir sub2/ " + outcome(() -> Posix.mkdir(d + "/sub2/", 0755)));
        out.add("mkdir f " + outcome(() -> Posix.mkdir(d + "/f", 0755)));
        out.add("rmdir ld " + outcome(() -> Posix.rmdir(d + "/ld")));
        out.add("rmdir sub " + outcome(() -> Posix.rmdir(d + "/sub")));
        out.add("unlink sub " + outcome(() -> Posix.unlink(d + "/sub")));
        out.add("link lf hl " + outcome(() -> Posix.link(d + "/lf", d + "/hl")) + " " + Posix.lstat(d + "/hl").isSymlink());
        out.add("link sub " + outcome(() -> Posix.link(d + "/sub", d + "/hsub")));
        out.add("rename sub f " + outcome(() -> Posix.rename(d + "/sub", d + "/f")));
        out.add("rename f sub " + outcome(() -> Posix.rename(d + "/f", d + "/sub")));
        out.add("rename into itself " + outcome(() -> Posix.rename(d + "/sub", d + "/sub/x")));
        out.add("readlink f " + outcome(() -> Posix.readlink(d + "/f")));
        out.add("long name " + outcome(() -> Posix.lstat(d + "/" + "n".repeat(256))));
        out.add("mknod exists " + outcome(() -> Posix.mknod(d + "/lf", Stat.S_IFIFO | 0600, 0)));
        out.add("unlink ld " + outcome(() -> Posix.unlink(d + "/ld")) + " sub " + Posix.lstat(d + "/sub").isDir());
        for (String name : names(d)) {
            out.add(name + " " + describe(Posix.lstat(d + "/" + name)).replaceAll(" mtime=\\d+\\.\\d+$", ""));
        }
        return out;
    }

    @Test
    void symlinksErrorsAndTrailingSlashesBehaveAsWithAShortPath() {
        Posix.mkdir(deep + "/t", 0755);
        Posix.mkdir(base + "/t", 0755);
        String longDir = deep + "/t";
        List<String> viaLong = script(longDir);
        List<String> viaShort = script(base + "/t");
        assertThat(viaLong).isEqualTo(viaShort);
        // and what the plain calls do, so the comparison is not of two equal mistakes
        assertThat(viaLong).contains("chmod lf ok f 384", "utimens lf ok lf 5 f 100", "truncate lf ok f 2",
                "open nofollow lf ELOOP", "open lf ok", "open dir of lf ENOTDIR", "names [inner]", "list lf ENOTDIR",
                "lstat f/ ENOTDIR", "lstatOrNull f/x null", "mkdir sub2/ ok", "rmdir ld ENOTDIR",
                "link lf hl ok true", "link sub EPERM", "rename into itself EINVAL", "readlink f EINVAL",
                "long name ENAMETOOLONG", "unlink ld ok sub true", "setxattr user lf EPERM");
        if (Posix.isRoot()) {
            assertThat(viaLong).contains("lchown lf ok lf 7 f 0");
        }
    }

    @Test
    void leadingSymlinksAreFollowedAtEveryPieceBoundary() {
        // a tree where every level is reached through a symlink, so every cut of the walk ends at one
        StringBuilder real = new StringBuilder(base + "/real");
        StringBuilder viaLinks = new StringBuilder(base + "/real");
        Posix.mkdir(real.toString(), 0755);
        for (int i = 0; i < 30; i++) {
            Posix.mkdir(real + "/" + SEG, 0755);
            Posix.symlink(SEG, real + "/" + "l".repeat(200));
            real.append('/').append(SEG);
            viaLinks.append('/').append("l".repeat(200));
        }
        write(real + "/f", "through links", 0644);
        assertThat(viaLinks.length()).isGreaterThan(LongPath.PATH_MAX);
        assertThat(read(viaLinks + "/f")).isEqualTo("through links");
        assertThat(Posix.lstat(viaLinks + "/f").ino()).isEqualTo(Posix.lstat(real + "/f").ino());
        // ".." is physical: the parent of where a symlink led, as in one walk
        assertThat(read(viaLinks + "/../" + SEG + "/f")).isEqualTo("through links");
        // a symlink leading to a file in a leading position is ENOTDIR; a dangling one ENOENT
        Posix.symlink("f", real + "/tofile");
        Posix.symlink("nowhere", real + "/dangling");
        assertThat(outcome(() -> Posix.lstat(viaLinks + "/tofile/x"))).isEqualTo("ENOTDIR");
        assertThat(outcome(() -> Posix.lstat(viaLinks + "/dangling/x"))).isEqualTo("ENOENT");
        // the last component is the plain call's: lstat does not follow it, a trailing slash does
        assertThat(Posix.lstat(viaLinks.toString()).isSymlink()).isTrue();
        assertThat(Posix.lstat(viaLinks + "/").isDir()).isTrue();
    }

    @Test
    void missingLeadingDirectoriesAndImpossiblePathsFailAsOneCallWould() {
        String gone = base + "/nope/" + (SEG + "/").repeat(25) + "f";
        assertThat(gone.length()).isGreaterThan(LongPath.PATH_MAX);
        assertThat(Posix.lstatOrNull(gone)).isNull();
        assertThat(Posix.exists(gone)).isFalse();
        assertThatThrownBy(() -> Posix.lstat(gone)).isInstanceOfSatisfying(Errno.class,
                e -> assertThat(e.errno).isEqualTo(Errno.ENOENT)).hasMessageContaining("lstat " + base + "/nope/");
        write(base + "/file", "x", 0644);
        String throughFile = base + "/file/" + (SEG + "/").repeat(25) + "f";
        assertThat(Posix.lstatOrNull(throughFile)).isNull();
        assertThat(outcome(() -> Posix.mkdir(throughFile, 0755))).isEqualTo("ENOTDIR");
        assertThat(outcome(() -> Posix.open(throughFile, Posix.O_RDONLY, 0))).isEqualTo("ENOTDIR");
        // no '/' to cut at: one name far over NAME_MAX
        assertThat(outcome(() -> Posix.lstat(base + "/" + "x".repeat(5000)))).isEqualTo("ENAMETOOLONG");
        assertThat(outcome(() -> Posix.lstat("x".repeat(5000)))).isEqualTo("ENAMETOOLONG");
        // a name over NAME_MAX is an error, not "absent", as for a short path
        assertThat(outcome(() -> Posix.lstatOrNull(deep + "/" + "x".repeat(300)))).isEqualTo("ENAMETOOLONG")
                .isEqualTo(outcome(() -> Posix.lstatOrNull(base + "/" + "x".repeat(300))));
    }

    private void longPathCalls(int i) {
        write(deep + "/f" + i, "x", 0644);
        Posix.lstat(deep + "/f" + i);
        Posix.lgetxattr(deep + "/f" + i, "user.none");
        Posix.list(deep);
        Posix.rename(deep + "/f" + i, deep + "/g" + i);
        outcome(() -> Posix.lstat(deep + "/missing/" + SEG));
        outcome(() -> Posix.list(deep + "/missing"));
        outcome(() -> Posix.lstat(base + "/nope/" + (SEG + "/").repeat(25)));
        outcome(() -> Posix.rename(base + "/nope/" + (SEG + "/").repeat(25), deep + "/x"));
        outcome(() -> Posix.lsetxattr(base + "/nope/" + (SEG + "/").repeat(25), "user.x", new byte[1], 0));
        Posix.unlink(deep + "/g" + i);
    }

    private static long openDescriptors() throws IOException {
        try (var fds = Files.list(Path.of("/proc/self/fd"))) {
            return fds.count();
        }
    }

    @Test
    void noDescriptorIsLeftOpen() throws IOException {
        longPathCalls(-1); // loads every class first
        long before = openDescriptors();
        for (int i = 0; i < 50; i++) {
            longPathCalls(i);
        }
        assertThat(openDescriptors()).isEqualTo(before);
    }

    @Test
    void treesRemoveAndMeasureDeepTrees() {
        String top = base + "/tree";
        StringBuilder p = new StringBuilder(top);
        Posix.mkdir(top, 0755);
        for (int i = 0; i < 60; i++) { // 12000 bytes: four pieces at the bottom
            p.append('/').append(SEG);
            Posix.mkdir(p.toString(), 0755);
            write(p + "/file", "x".repeat(8192), 0644);
        }
        assertThat(Trees.diskUsage(top)).isGreaterThanOrEqualTo(60 * 8192L);
        Trees.remove(top);
        assertThat(Posix.exists(top)).isFalse();
    }

    @Test
    void pathsAroundPathMax() {
        // a directory of 3900 bytes, then names making paths of PATH_MAX - 1, PATH_MAX and PATH_MAX + 1 bytes
        StringBuilder p = new StringBuilder(base + "/edge");
        Posix.mkdir(p.toString(), 0755);
        while (p.length() + 201 < 3900 - 10) {
            p.append('/').append(SEG);
            Posix.mkdir(p.toString(), 0755);
        }
        String pad = "p".repeat(3900 - p.length() - 1);
        p.append('/').append(pad);
        Posix.mkdir(p.toString(), 0755);
        assertThat(p.length()).isEqualTo(3900);
        for (int len = LongPath.PATH_MAX - 1; len <= LongPath.PATH_MAX + 1; len++) {
            String f = p + "/" + "f".repeat(len - p.length() - 1);
            assertThat(f.length()).isEqualTo(len);
            write(f, "at " + len, 0644);
            assertThat(read(f)).isEqualTo("at " + len);
            try (LongPath walked = LongPath.walk(f, false, "test")) {
                if (len < LongPath.PATH_MAX) {
                    // fits one syscall: nothing opened, the path itself
                    assertThat(walked.dirFd).isEqualTo(Posix.AT_FDCWD);
                    assertThat(walked.rest).isSameAs(f);
                    assertThat(Posix.libc().lstat(f, Memory.allocateDirect(Posix.runtime(), Stat.SIZE))).isZero();
                } else {
                    // the kernel refuses it in one call; the walk leaves the last name for the *at() call
                    assertThat(Posix.libc().lstat(f, Memory.allocateDirect(Posix.runtime(), Stat.SIZE))).isNegative();
                    assertThat(Posix.runtime().getLastError()).isEqualTo(Errno.ENAMETOOLONG);
                    assertThat(walked.dirFd).isNotEqualTo(Posix.AT_FDCWD);
                    assertThat(walked.rest).isEqualTo(f.substring(p.length() + 1));
                }
            }
        }
        assertThat(names(p.toString())).hasSize(3);
    }
}
