package io.layerfs.overlay;

import io.layerfs.testing.Sh;
import io.layerfs.testing.TreeSnapshot;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Access control through the mount (default_permissions, allow_other): non-root users act through the real
 * mount with ordinary syscalls, and every result is compared with kernel overlayfs over the same lower.
 * <p>Users: nobody (65534:65534, not in group 100) and uid 1000 (gid 1000), both via setpriv --clear-groups.
 */
class PermissionsTest {
    static final int NOBODY = 65534;
    static final int OTHER = 1000;

    /**
     * {@code t NAME CMD...} runs CMD and prints "NAME: ok" or "NAME: <the last part of its error message>"
     * (e.g. "Permission denied"), so both mounts' results can be compared line by line.
     */
    static final String PRELUDE = """
            umask 022
            t() { n="$1"; shift; if out=$("$@" 2>&1); then echo "$n: ok"; else echo "$n: ${out##*: }"; fi; }
            """;

    Path lower;
    MountFixture fx;
    KernelOverlay kernel;

    @BeforeEach
    void setUp() throws IOException {
        lower = Files.createTempDirectory("layerfs-perm-lower");
        Sh.ok(lower, """
                set -e
                chmod 755 .
                echo secret > secret && chmod 600 secret
                mkdir ro && echo ro > ro/file
                echo '#!/bin/sh' > rootfile && chmod 755 rootfile
                echo mine > mine && chown 65534:65534 mine
                mkdir home && chown 65534:65534 home
                mkdir shared && chgrp 100 shared && chmod 2777 shared
                mkdir tmp && chmod 1777 tmp && echo theirs > tmp/theirs && chown 1000:1000 tmp/theirs
                echo data > world-suid && chmod 6777 world-suid
                """);
        fx = new MountFixture(List.of(lower));
        kernel = new KernelOverlay(List.of(lower));
        // the test user must be able to reach both mountpoints; the merged roots are the uppers' roots
        Sh.ok("chmod 755 '" + fx.base() + "' '" + kernel.mnt().getParent() + "' && chmod 755 '" + fx.mnt() + "' '"
                + kernel.mnt() + "'");
    }

    @AfterEach
    void tearDown() {
        try {
            if (fx != null) {
                fx.close();
            }
        } finally {
            if (kernel != null) {
                kernel.close();
            }
            Sh.run(null, "rm -rf '" + lower + "'");
        }
    }

    /** Runs {@code script} as uid:gid (no supplementary groups) with {@code dir} as working directory. */
    static String as(int uid, int gid, Path dir, String script) {
        String full = PRELUDE + script;
        return Sh.ok(dir, "setpriv --reuid=" + uid + " --regid=" + gid + " --clear-groups -- bash -c '"
                + full.replace("'", "'\\''") + "'");
    }

    /** Runs the same script as uid:gid on both mounts; the outputs must be equal. Returns layerfs's. */
    private String onBoth(int uid, int gid, String script) {
        String ours = as(uid, gid, fx.mnt(), script);
        String theirs = as(uid, gid, kernel.mnt(), script);
        assertThat(ours).as("layerfs vs kernel overlayfs for:\n%s", script).isEqualTo(theirs);
        return ours;
    }

    private String rootOnBoth(String script) {
        String ours = fx.sh(script);
        assertThat(ours).isEqualTo(kernel.sh(script));
        return ours;
    }

    /**
     * The uppers hold the same objects with the same owners and modes. Overlay xattrs are left out: layerfs
     * marks a new directory in a merged parent opaque, which kernels that allow offline changes to the
     * layers (the default since 6.x: no index, no metacopy, no redirect_dir) no longer do.
     */
    private void uppersMatch() {
        TreeSnapshot.Options options = new TreeSnapshot.Options(false, false, false); // new files: not made at the same instant
        assertThat(TreeSnapshot.of(fx.upper(), options)).isEqualTo(TreeSnapshot.of(kernel.upper(), options));
    }

    private String upperFiles() {
        return Sh.ok(fx.upper(), "find . -mindepth 1 | sort");
    }

    @Test
    void cannotReadOrChangeARootOnlyFile() {
        String out = onBoth(NOBODY, NOBODY, """
                t read-secret cat secret
                t read-rootfile cat rootfile
                t append-rootfile sh -c 'echo x >> rootfile'
                t truncate-rootfile truncate -s 0 rootfile
                t touch-rootfile touch -d @1600000000 rootfile
                t unlink-rootfile rm -f rootfile
                t xattr-rootfile setfattr -n user.k -v v rootfile
                """);
        assertThat(out).isEqualTo("""
                read-secret: Permission denied
                read-rootfile: ok
                append-rootfile: Permission denied
                truncate-rootfile: Permission denied
                touch-rootfile: Permission denied
                unlink-rootfile: Permission denied
                xattr-rootfile: Permission denied
                """);
        assertThat(upperFiles()).isEmpty(); // a refused change copies nothing up
        assertThat(rootOnBoth("cat secret rootfile")).isEqualTo("secret\n#!/bin/sh\n");
        uppersMatch();
    }

    @Test
    void cannotCreateInADirectoryWithoutWritePermission() {
        String out = onBoth(NOBODY, NOBODY, """
                t create touch ro/new
                t mkdir mkdir ro/d
                t symlink ln -s target ro/l
                t fifo mkfifo ro/p
                t hardlink ln mine ro/mine-link
                t rename-in mv home ro/home
                t rename-out mv ro/file home/file
                t unlink rm -f ro/file
                t rmdir rm -rf ro
                t create-in-root touch new-in-root
                t create-in-home touch home/new
                """);
        assertThat(out).isEqualTo("""
                create: Permission denied
                mkdir: Permission denied
                symlink: Permission denied
                fifo: Permission denied
                hardlink: Permission denied
                rename-in: Permission denied
                rename-out: Permission denied
                unlink: Permission denied
                rmdir: Permission denied
                create-in-root: Permission denied
                create-in-home: ok
                """);
        assertThat(upperFiles()).isEqualTo("./home\n./home/new\n");
        assertThat(rootOnBoth("stat -c '%U:%G %a' home/new; ls ro")).isEqualTo("nobody:nogroup 644\nfile\n");
        uppersMatch();
    }

    @Test
    void cannotSetSetuidOrChangeOwnersOfFilesTheyDoNotOwn() {
        String out = onBoth(NOBODY, NOBODY, """
                t chmod-us-root chmod u+s rootfile
                t chmod-4755-root chmod 4755 rootfile
                t chmod-2755-root chmod 2755 rootfile
                t chown-root chown 65534 rootfile
                t chown-mine-away chown 1000 mine
                t chgrp-mine-nonmember chgrp 100 mine
                t chmod-us-mine chmod u+s mine
                t append-world-suid sh -c 'echo more >> world-suid'
                """);
        assertThat(out).isEqualTo("""
                chmod-us-root: Operation not permitted
                chmod-4755-root: Operation not permitted
                chmod-2755-root: Operation not permitted
                chown-root: Operation not permitted
                chown-mine-away: Operation not permitted
                chgrp-mine-nonmember: Operation not permitted
                chmod-us-mine: ok
                append-world-suid: ok
                """);
        // the owner may set setuid on their own file; a write by someone else clears setuid and setgid
        assertThat(rootOnBoth("stat -c '%n %a %u:%g' rootfile mine world-suid")).isEqualTo("""
                rootfile 755 0:0
                mine 4644 65534:65534
                world-suid 777 0:0
                """);
        assertThat(upperFiles()).isEqualTo("./mine\n./world-suid\n");
        assertThat(Sh.ok(fx.upper(), "stat -c '%n %a %u:%g' mine world-suid"))
                .isEqualTo("mine 4644 65534:65534\nworld-suid 777 0:0\n");
        uppersMatch();
    }

    @Test
    void setgidDirectoriesPassTheirGroupToNewEntries() {
        String out = onBoth(NOBODY, NOBODY, """
                t mkdir mkdir shared/sub
                t mkdir-deeper mkdir shared/sub/deeper
                t create touch shared/f
                t create-deeper touch shared/sub/deeper/g
                t create-sgid python3 -c 'import os; os.umask(0); os.close(os.open("shared/x", os.O_CREAT | os.O_WRONLY, 0o2755))'
                t chmod-sgid-nonmember sh -c 'touch shared/y && chmod 2755 shared/y'
                t mkdir-home-sgid sh -c 'mkdir home/d && chmod 2755 home/d && mkdir home/d/e'
                """);
        assertThat(out).doesNotContain("denied", "not permitted");
        String stats = "stat -c '%n %a %u:%g' shared shared/sub shared/sub/deeper shared/f shared/sub/deeper/g"
                + " shared/x shared/y home/d home/d/e";
        String expected = """
                shared 2777 0:100
                shared/sub 2755 65534:100
                shared/sub/deeper 2755 65534:100
                shared/f 644 65534:100
                shared/sub/deeper/g 644 65534:100
                shared/x 755 65534:100
                shared/y 755 65534:100
                home/d 2755 65534:65534
                home/d/e 2755 65534:65534
                """;
        // a new file never keeps setgid for a group its creator is not in (x, y); directories inherit setgid
        assertThat(rootOnBoth(stats)).isEqualTo(expected);
        assertThat(Sh.ok(fx.upper(), stats)).isEqualTo(expected); // on disk, so the kernel sees the same
        uppersMatch();
        fx.remount();
        assertThat(fx.sh(stats)).isEqualTo(expected);
    }

    /**
     * Root's new entries in a setgid directory, with modes the daemon's own umask would cut (the in-process mount's
     * JVM keeps its umask): a directory still inherits setgid and the group, and every mode is the one asked for.
     */
    @Test
    void rootsNewEntriesInASetgidDirectoryKeepTheirModesAndInheritSetgid() {
        String out = onBoth(0, 0, """
                umask 0
                t mkdir mkdir -m 777 shared/rootdir
                t create python3 -c 'import os; os.close(os.open("shared/rootfile", os.O_CREAT | os.O_WRONLY, 0o666))'
                t mkdir-plain mkdir -m 777 home/plain
                """);
        assertThat(out).doesNotContain("denied", "not permitted");
        String stats = "stat -c '%n %a %u:%g' shared/rootdir shared/rootfile home/plain";
        String expected = """
                shared/rootdir 2777 0:100
                shared/rootfile 666 0:100
                home/plain 777 0:0
                """;
        assertThat(rootOnBoth(stats)).isEqualTo(expected);
        assertThat(Sh.ok(fx.upper(), stats)).isEqualTo(expected);
        uppersMatch();
    }

    @Test
    void stickyDirectoriesProtectOthersFiles() {
        String out = onBoth(NOBODY, NOBODY, """
                t rm-theirs rm -f tmp/theirs
                t mv-theirs mv tmp/theirs tmp/stolen
                t mv-theirs-out mv tmp/theirs home/stolen
                t write-theirs sh -c 'echo x >> tmp/theirs'
                t create-own sh -c 'echo own > tmp/own'
                t replace-theirs sh -c 'echo imposter > tmp/imposter && mv tmp/imposter tmp/theirs'
                t rename-own mv tmp/own tmp/own2
                """);
        assertThat(out).isEqualTo("""
                rm-theirs: Operation not permitted
                mv-theirs: Operation not permitted
                mv-theirs-out: Operation not permitted
                write-theirs: Permission denied
                create-own: ok
                replace-theirs: Operation not permitted
                rename-own: ok
                """);
        assertThat(onBoth(OTHER, OTHER, """
                t other-rm-nobodys rm -f tmp/own2
                t other-mv-nobodys mv tmp/imposter tmp/mine-now
                t other-rm-own rm tmp/theirs
                """)).isEqualTo("""
                other-rm-nobodys: Operation not permitted
                other-mv-nobodys: Operation not permitted
                other-rm-own: ok
                """);
        assertThat(onBoth(NOBODY, NOBODY, "t rm-own rm tmp/own2 tmp/imposter")).isEqualTo("rm-own: ok\n");
        assertThat(rootOnBoth("ls -A tmp")).isEmpty();
        // a sticky directory made through the mount protects the same way
        rootOnBoth("mkdir -m 1777 scratch && echo x > scratch/f && chown 1000:1000 scratch/f");
        assertThat(onBoth(NOBODY, NOBODY, "t rm-new-sticky rm -f scratch/f")).isEqualTo("rm-new-sticky: Operation not permitted\n");
        uppersMatch();
    }

    @Test
    void aUserCanChangeTheirOwnFiles() {
        String out = onBoth(NOBODY, NOBODY, """
                t append-mine sh -c 'echo more >> mine'
                t chmod-mine chmod 600 mine
                t touch-mine touch -d @1600000000 mine
                t xattr-mine setfattr -n user.k -v v mine
                t create-home sh -c 'echo new > home/new'
                t mkdir-home mkdir home/sub
                t rename-home mv home/new home/sub/new
                t link-home ln home/sub/new home/link
                t unlink-home rm home/sub/new
                t rmdir-home rmdir home/sub
                t read-mine cat mine
                t read-link cat home/link
                """);
        assertThat(out).isEqualTo("""
                append-mine: ok
                chmod-mine: ok
                touch-mine: ok
                xattr-mine: ok
                create-home: ok
                mkdir-home: ok
                rename-home: ok
                link-home: ok
                unlink-home: ok
                rmdir-home: ok
                read-mine: ok
                read-link: ok
                """);
        String stats = "stat -c '%n %a %u:%g %Y %s' mine; stat -c '%n %a %u:%g %s' home/link; cat mine;"
                + " getfattr -n user.k --only-values mine";
        assertThat(rootOnBoth(stats)).isEqualTo("mine 600 65534:65534 1600000000 10\nhome/link 644 65534:65534 4\nmine\nmore\nv");
        assertThat(Sh.ok(fx.upper(), "stat -c '%a %u:%g' mine home/link")).isEqualTo("600 65534:65534\n644 65534:65534\n");
        uppersMatch();
    }
}
