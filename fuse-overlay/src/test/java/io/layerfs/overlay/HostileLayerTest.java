package io.layerfs.overlay;

import io.layerfs.testing.Sh;
import io.layerfs.testing.TreeSnapshot;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

/**
 * Layers built to hurt: symlinks to {@code /}, {@code ..} and absolute host paths, names with newlines and
 * invalid UTF-8, names at and past NAME_MAX, trees deeper than PATH_MAX, and a lower that contains the
 * mountpoint. Correct behaviour or a clear error, never a host file seen or written, nothing outside the upper
 * changed. Compared with kernel overlayfs over the same lowers where the kernel has an answer.
 */
class HostileLayerTest {
    /** Compares uppers by objects, owners, modes and content; not overlay xattrs or mtimes of new files. */
    static final TreeSnapshot.Options UPPER = new TreeSnapshot.Options(false, false, false);

    Path base;
    Path host;
    Path lower;
    final List<AutoCloseable> mounts = new ArrayList<>();

    @BeforeEach
    void setUp() throws IOException {
        base = Files.createTempDirectory("layerfs-hostile");
        // a host directory outside every layer, which nothing through a mount may read or write
        host = Files.createDirectories(base.resolve("host"));
        Files.writeString(host.resolve("victim"), "original\n");
        lower = Files.createDirectories(base.resolve("lower"));
        Sh.ok(lower, "set -e; cp /bin/busybox busybox; mkdir -p d/e bin tmp"
                + "; ln -s / root; ln -s .. up; ln -s ../../.. upupup; ln -s ../../../../../../../.. d/e/climb"
                + "; ln -s '" + host.resolve("victim") + "' victim; ln -s '" + host + "' hostdir; ln -s /etc etc"
                + "; ln -s /busybox bin/sh; echo lower > d/file");
    }

    @AfterEach
    void tearDown() {
        for (int i = mounts.size() - 1; i >= 0; i--) {
            try {
                mounts.get(i).close();
            } catch (Exception e) {
                // keep closing the others
            }
        }
        // whatever a failed test left mounted under base, by exact path; then delete
        Sh.run(null, "grep -o ' " + base + "/[^ ]*' /proc/self/mounts | sort -r | while read m; do umount -l \"$m\"; done;"
                + " rm -rf '" + base + "'");
    }

    private MountFixture layerfs(Path... lowers) {
        MountFixture fx = new MountFixture(List.of(lowers));
        mounts.add(fx);
        return fx;
    }

    private KernelOverlay kernel(Path... lowers) {
        KernelOverlay k = new KernelOverlay(List.of(lowers));
        mounts.add(k);
        return k;
    }

    private Map<String, String> hostState() {
        return TreeSnapshot.of(host, TreeSnapshot.Options.MERGED);
    }

    private Map<String, String> lowerState(Path dir) {
        return TreeSnapshot.of(dir, TreeSnapshot.Options.MERGED);
    }

    // ---------------------------------------------------------------- symlinks

    @Test
    void hostileSymlinksAreShownAsTheyAreAndNeverFollowedByTheDaemon() {
        Map<String, String> lowerBefore = lowerState(lower);
        MountFixture fx = layerfs(lower);
        KernelOverlay k = kernel(lower);
        String script = "for l in root up upupup d/e/climb victim hostdir etc; do printf '%s %s -> ' $l \"$(stat -c %F $l)\";"
                + " readlink $l; done; ls -A d/e";
        String out = fx.sh(script);
        assertThat(out).isEqualTo(k.sh(script)).contains("root symbolic link -> /\n", "up symbolic link -> ..\n",
                "hostdir symbolic link -> " + host + "\n", "d/e/climb symbolic link -> ../../../../../../../..\n");
        assertThat(TreeSnapshot.of(fx.mnt(), TreeSnapshot.Options.MERGED))
                .isEqualTo(TreeSnapshot.of(k.mnt(), TreeSnapshot.Options.MERGED));
        // changing a symlink's owner copies the link itself up, target text unchanged
        fx.sh("chown -h 1000:1000 victim hostdir up");
        assertThat(Sh.ok(fx.upper(), "stat -c '%n %F %u' victim hostdir up; readlink victim hostdir up"))
                .isEqualTo("victim symbolic link 1000\nhostdir symbolic link 1000\nup symbolic link 1000\n"
                        + host.resolve("victim") + "\n" + host + "\n..\n");
        assertThat(Sh.ok(host, "ls -A; stat -c %u victim; cat victim")).isEqualTo("victim\n0\noriginal\n");
        assertThat(lowerState(lower)).isEqualTo(lowerBefore);
    }

    @Test
    void writesThroughHostileSymlinksInsideAChrootLandInTheUpper() throws Exception {
        Map<String, String> lowerBefore = lowerState(lower);
        Map<String, String> hostBefore = hostState();
        String script = "set -e; mkdir -p '" + host + "'; echo pwned > /victim; echo new > /hostdir/new;"
                + " echo esc > /up/up/escaped; echo esc2 > /upupup/escaped2; echo esc3 > /d/e/climb/escaped3;"
                + " echo viaroot > /root/root/viaroot; ls /hostdir";
        MountFixture fx = layerfs(lower);
        KernelOverlay k = kernel(lower);
        String chroot = "chroot '%s' /busybox sh -c \"" + script + "\"";
        assertThat(Sh.ok(chroot.formatted(fx.mnt()))).isEqualTo("new\nvictim\n")
                .isEqualTo(Sh.ok(chroot.formatted(k.mnt())));
        Path inUpper = fx.upper().resolve(base.getRoot().relativize(host));
        assertThat(Files.readString(inUpper.resolve("victim"))).isEqualTo("pwned\n");
        assertThat(Files.readString(inUpper.resolve("new"))).isEqualTo("new\n");
        for (String f : new String[]{"escaped", "escaped2", "escaped3", "viaroot"}) {
            assertThat(fx.upper().resolve(f)).isRegularFile();
            assertThat(Path.of("/" + f)).doesNotExist();
            assertThat(base.getParent().resolve(f)).doesNotExist();
            assertThat(base.resolve(f)).doesNotExist();
        }
        // the host and the lower never changed; both uppers hold the same result
        assertThat(hostState()).isEqualTo(hostBefore);
        assertThat(Files.readString(host.resolve("victim"))).isEqualTo("original\n");
        assertThat(lowerState(lower)).isEqualTo(lowerBefore);
        assertThat(TreeSnapshot.of(fx.upper(), UPPER)).isEqualTo(TreeSnapshot.of(k.upper(), UPPER));
    }

    @Test
    void aLowerSymlinkBelowADirectoryNeverMergesTheHostIn() throws IOException {
        // top: a real directory "hostdir" (one file) and a symlink "x" to the host; bottom: the reverse
        Path top = Files.createDirectories(base.resolve("top"));
        Sh.ok(top, "mkdir hostdir && echo mine > hostdir/mine && ln -s '" + host + "' x");
        Path bottom = Files.createDirectories(base.resolve("bottom"));
        Sh.ok(bottom, "ln -s '" + host + "' hostdir && mkdir x && echo lowerx > x/file");
        MountFixture fx = layerfs(top, bottom);
        KernelOverlay k = kernel(top, bottom);
        String script = "ls -A hostdir; stat -c %F x; echo new > hostdir/new; ls -A hostdir; readlink x";
        assertThat(fx.sh(script)).isEqualTo("mine\nsymbolic link\nmine\nnew\n" + host + "\n").isEqualTo(k.sh(script));
        assertThat(fx.shResult("stat hostdir/victim").exit()).isNotZero();
        assertThat(Files.readString(fx.upper().resolve("hostdir/new"))).isEqualTo("new\n");
        assertThat(Sh.ok(host, "ls -A")).isEqualTo("victim\n");
        assertThat(TreeSnapshot.of(fx.upper(), UPPER)).isEqualTo(TreeSnapshot.of(k.upper(), UPPER));
    }

    // ---------------------------------------------------------------- names

    /** Names with newlines, tabs, leading dashes, backslashes and bytes that are not UTF-8. */
    static final String NAMES = """
            names = [b"new\\nline", b"\\xff\\xfe-latin1", b"\\x80", b"tab\\there", b" space ", b"back\\\\slash", b"-dash",
                     b"\\xc3(", b"\\n"]
            """;

    @Test
    void namesWithNewlinesAndInvalidUtf8RoundTrip() throws IOException {
        Path weird = Files.createDirectories(base.resolve("weird"));
        Sh.ok(weird, "python3 - <<'EOF'\nimport os\n" + NAMES + """
                for n in names:
                    open(n, "wb").write(b"content of " + n)
                os.mkdir(b"dir\\n\\xff")
                open(b"dir\\n\\xff/inner\\xc3(", "wb").write(b"inner")
                EOF
                """);
        String ops = "python3 - <<'EOF'\nimport os\n" + NAMES + """
                ls = lambda d=b".": sorted(os.listdir(d))
                print(ls()); print(ls(b"dir\\n\\xff"))
                print([open(n, "rb").read() for n in names])
                open(b"new\\nline", "ab").write(b"+more")
                open(b"dir\\n\\xff/inner\\xc3(", "ab").write(b"+more")
                os.rename(b"\\x80", b"\\x81\\nrenamed")
                os.unlink(b"tab\\there")
                os.mkdir(b"made\\xff\\n")
                open(b"made\\xff\\n/f\\xfe", "wb").write(b"x")
                os.symlink(b"\\xff\\n-target", b"link\\xfe")
                print(ls()); print(ls(b"dir\\n\\xff")); print(os.readlink(b"link\\xfe"))
                print(open(b"new\\nline", "rb").read(), open(b"dir\\n\\xff/inner\\xc3(", "rb").read())
                EOF
                """;
        MountFixture fx = layerfs(weird);
        KernelOverlay k = kernel(weird);
        String out = fx.sh(ops);
        assertThat(out).isEqualTo(k.sh(ops));
        assertThat(out.split("\n")[0]).isEqualTo(
                "[b'\\n', b' space ', b'-dash', b'back\\\\slash', b'dir\\n\\xff', b'new\\nline', b'tab\\there', b'\\x80',"
                        + " b'\\xc3(', b'\\xff\\xfe-latin1']");
        assertThat(out.split("\n")[3]).contains("b'\\x81\\nrenamed'", "b'made\\xff\\n'", "b'link\\xfe'")
                .doesNotContain("b'tab\\there'", "b'\\x80'");
        assertThat(out).contains("b'content of new\\nline+more' b'inner+more'");
        // the upper holds exactly the kernel's names and objects (whiteouts included)
        assertThat(TreeSnapshot.of(fx.upper(), UPPER)).isEqualTo(TreeSnapshot.of(k.upper(), UPPER));
        assertThat(Sh.ok(fx.upper(), "python3 -c 'import os; print(sorted(os.listdir(b\".\")))'"))
                .isEqualTo("[b'dir\\n\\xff', b'link\\xfe', b'made\\xff\\n', b'new\\nline', b'tab\\there', b'\\x80',"
                        + " b'\\x81\\nrenamed']\n");
        // and the same after a remount; a lower directory with such names renames whole (the kernel says EXDEV)
        fx.remount();
        String again = fx.sh(ops.substring(0, ops.indexOf("print([open")) + "EOF\n");
        assertThat(again.split("\n")[0]).isEqualTo(out.split("\n")[3]);
        fx.sh("python3 -c 'import os; os.rename(b\"dir\\n\\xff\", b\"moved\\xfe\\n\")'");
        assertThat(fx.sh("python3 -c 'import os; print(os.listdir(b\"moved\\xfe\\n\"), open(b\"moved\\xfe\\n/inner\\xc3(\", \"rb\").read())'"))
                .isEqualTo("[b'inner\\xc3('] b'inner+more'\n");
    }

    @Test
    void namesOf255BytesWorkAnd256AreTooLong() throws IOException {
        Path names = Files.createDirectories(base.resolve("names"));
        String setup = """
                L=l$(printf 'a%.0s' $(seq 254)); D=D$(printf 'b%.0s' $(seq 254)); N=n$(printf 'c%.0s' $(seq 254))
                R=r$(printf 'd%.0s' $(seq 254)); M=m$(printf 'e%.0s' $(seq 254)); T=${N}t
                """;
        Sh.ok(names, setup + "echo lower > $L && mkdir $D && echo inner > $D/$L && echo gone > $M");
        String ops = PermissionsTest.PRELUDE + setup + """
                t stat-255 stat -c %s $L
                t append-255 sh -c "echo more >> $L"
                t append-255-in-255 sh -c "echo more >> $D/$L"
                t create-255 touch $N
                t mkdir-255 mkdir $D/$R
                t rename-255 mv $N $D/$N
                t unlink-255 rm $M
                t symlink-255 ln -s $L $R
                t create-256 touch $T
                t mkdir-256 mkdir $T
                t rename-to-256 mv $L $T
                t symlink-256 ln -s x $T
                t stat-256 stat $T
                t link-256 ln $D/$N $T
                t target-4095 ln -s $(printf 'x%.0s' $(seq 4095)) long-target
                t target-4096 ln -s $(printf 'x%.0s' $(seq 4096)) too-long-target
                readlink long-target | wc -c
                cat $L $D/$L; ls $D | cut -c1-3; ls | wc -l
                """;
        MountFixture fx = layerfs(names);
        KernelOverlay k = kernel(names);
        String out = fx.sh(ops);
        assertThat(out).isEqualTo(k.sh(ops)).isEqualTo("""
                stat-255: ok
                append-255: ok
                append-255-in-255: ok
                create-255: ok
                mkdir-255: ok
                rename-255: ok
                unlink-255: ok
                symlink-255: ok
                create-256: File name too long
                mkdir-256: File name too long
                rename-to-256: File name too long
                symlink-256: File name too long
                stat-256: File name too long
                link-256: File name too long
                target-4095: ok
                target-4096: File name too long
                4096
                lower
                more
                inner
                more
                laa
                ncc
                rdd
                4
                """);
        assertThat(TreeSnapshot.of(fx.upper(), UPPER)).isEqualTo(TreeSnapshot.of(k.upper(), UPPER));
        assertThat(Sh.ok(fx.upper(), "find . -name 'm*' -printf '%y %s\\n'")).isEqualTo("c 0\n"); // the whiteout
    }

    // ---------------------------------------------------------------- deep trees

    /** mkdir -p, create, stat, rename and rm -rf at depth; every command must work (set -e). */
    static String deepOps(int segments) {
        return """
                set -e
                seg=$(printf 'd%%.0s' $(seq 199)); p=.; for i in $(seq %d); do p=$p/$seg; done
                mkdir -p "$p"
                top=$PWD; for i in $(seq %d); do cd $seg; done
                echo deep > file; stat -c '%%s %%F' file; mv file renamed
                mkdir sub; mv sub sub2; echo inner > sub2/inner; cat renamed sub2/inner
                echo "merged path: $(( ${#PWD} - ${#top} )) bytes"
                cd "$top"; find . -name renamed | wc -c
                mv $seg moved; find moved -type f | wc -l
                rm -rf moved; ls -A | wc -l
                """.formatted(segments, segments);
    }

    @Test
    void aPathOf4000BytesWorksThroughTheMount() {
        MountFixture fx = layerfs(lower);
        KernelOverlay k = kernel(lower);
        String ops = deepOps(20).replace("set -e\n", "set -e; cd d\n"); // inside a merged lower directory
        String out = fx.sh(ops);
        assertThat(out).isEqualTo(k.sh(ops));
        // 4000 bytes below d: "/d" + 4000 + "/renamed" is 4010 bytes, just inside PATH_MAX with the upper's prefix
        assertThat(out).isEqualTo("5 regular file\ndeep\ninner\nmerged path: 4000 bytes\n4010\n2\n2\n");
        assertThat(Sh.ok(fx.upper(), "ls -A d")).isEmpty();
    }

    /**
     * Merged paths whose real path (layer dir + merged path) is longer than PATH_MAX: the daemon's syscalls walk
     * them in pieces (io.layerfs.posix.LongPath), as the kernel walks dentries, so nothing fails at 4096 bytes.
     */
    @Test
    void pathsLongerThanPathMaxWorkAsInTheKernel() {
        MountFixture fx = layerfs(lower);
        KernelOverlay k = kernel(lower);
        String ops = deepOps(25);
        Sh.Result theirs = Sh.run(k.mnt(), ops);
        assertThat(theirs.exit()).as(theirs.err()).isZero();
        assertThat(theirs.out()).startsWith("5 regular file\ndeep\ninner\nmerged path: 5000 bytes\n");
        Sh.Result ours = Sh.run(fx.mnt(), ops);
        assertThat(ours.exit()).as("layerfs: %s", ours.err().length() > 300 ? ours.err().substring(ours.err().length() - 300)
                : ours.err()).isZero();
        assertThat(ours.out()).isEqualTo(theirs.out());
    }

    /** A lower layer with a tree deeper than PATH_MAX lists and removes (whiteouts 5000 bytes down) as in the kernel. */
    @Test
    void aLowerTreeDeeperThanPathMaxListsAndRemovesAsInTheKernel() throws IOException {
        Path deep = Files.createDirectories(base.resolve("deep"));
        Sh.ok(deep, "seg=$(printf 'e%.0s' $(seq 200)); for i in $(seq 25); do mkdir $seg && cd $seg; done; echo bottom > file");
        String ops = "set -e; find . -name file -execdir cat {} \\;; find . | wc -l; rm -rf e*; ls -A | wc -l";
        MountFixture fx = layerfs(deep);
        KernelOverlay k = kernel(deep);
        assertThat(k.sh(ops)).isEqualTo("bottom\n27\n0\n");
        Sh.Result ours = Sh.run(fx.mnt(), ops);
        assertThat(ours.exit()).as("layerfs: %s", ours.err().length() > 300 ? ours.err().substring(0, 300) : ours.err()).isZero();
        assertThat(ours.out()).isEqualTo("bottom\n27\n0\n");
    }

    /** A lower tree 5000 bytes deep: a bottom directory full of objects to copy up, change and remove. */
    private Path deepLower() {
        Path deep = base.resolve("deep");
        Sh.ok(null, "mkdir '" + deep + "' && cd '" + deep + "' && seg=$(printf 'e%.0s' $(seq 200));"
                + " for i in $(seq 25); do mkdir $seg && cd $seg; done; set -e"
                + "; echo data > data; echo keep > keep; echo gone > gone; mkdir olddir; echo x > olddir/x"
                + "; ln -s data link; mkdir sub; echo inner > sub/inner; echo x > xfile; setfattr -n user.old -v v1 xfile"
                + "; mkfifo fifo; touch -d @1500000000 data keep xfile sub/inner");
        return deep;
    }

    /**
     * Copy-up 5000 bytes down (data, attributes, xattrs, a symlink, hard links, whiteouts, a directory made over a
     * whiteout), compared with the kernel: output, merged view and upper (its opaque markers included).
     */
    @Test
    void aLowerTreeDeeperThanPathMaxCopiesUpAsInTheKernel() {
        Path deep = deepLower();
        String ops = """
                set -e
                seg=$(printf 'e%.0s' $(seq 200)); for i in $(seq 25); do cd $seg; done
                echo more >> data; chmod 600 keep; chown 1000:1000 keep; touch -h -d @1000000000 link
                setfattr -n user.new -v v2 xfile; getfattr -d -m user. xfile | grep user.
                ln data hard; ln -s data sym2; rm gone fifo; rm -r olddir; mkdir olddir; echo new > olddir/new
                echo changed > sub/inner; truncate -s 3 sub/inner
                stat -c '%n %s %a %u:%g %F' * | sort; cat data hard olddir/new sub/inner; echo; readlink link sym2
                ls -A | wc -l; ls -A olddir; stat -c %Y link
                """;
        MountFixture fx = layerfs(deep);
        KernelOverlay k = kernel(deep);
        String theirs = k.sh(ops);
        assertThat(theirs).contains("user.new=\"v2\"", "keep 5 600 1000:1000 regular file", "data\nmore\ndata\nmore\n",
                "new\ncha\n", "\n8\nnew\n1000000000\n");
        Sh.Result ours = Sh.run(fx.mnt(), ops);
        assertThat(ours.exit()).as("layerfs: %s", ours.err().length() > 300 ? ours.err().substring(0, 300) : ours.err()).isZero();
        assertThat(ours.out()).isEqualTo(theirs);
        fx.remount(); // fresh kernel caches (hard links on jnr-fuse)
        TreeSnapshot.Options merged = new TreeSnapshot.Options(true, false, false); // not the times of new writes
        assertThat(TreeSnapshot.of(fx.mnt(), merged)).isEqualTo(TreeSnapshot.of(k.mnt(), merged));
        TreeSnapshot.Options withOpaque = new TreeSnapshot.Options(false, true, false);
        assertThat(TreeSnapshot.of(fx.upper(), withOpaque)).isEqualTo(TreeSnapshot.of(k.upper(), withOpaque))
                .hasSizeGreaterThan(25);
        assertThat(lowerState(deep)).doesNotContainKey("moved");
    }

    /**
     * Renaming a lower directory that holds a tree deeper than PATH_MAX (the kernel says EXDEV; layerfs copies the
     * merged subtree up and renames it): the merged view moves unchanged, and the upper it leaves is one kernel
     * overlayfs mounts to the same view.
     */
    @Test
    void aLowerDirectoryDeeperThanPathMaxRenamesWhole() {
        Path deep = deepLower();
        Map<String, String> lowerBefore = lowerState(deep);
        MountFixture fx = layerfs(deep);
        String seg = "e".repeat(200);
        fx.sh("set -e; for i in $(seq 25); do cd " + seg + "; done; rm gone; echo more >> data; mkdir new; echo n > new/f");
        Map<String, String> before = TreeSnapshot.of(fx.mnt().resolve(seg), TreeSnapshot.Options.MERGED);
        assertThat(before).hasSizeGreaterThan(30);
        fx.sh("python3 -c 'import os; os.rename(\"" + seg + "\", \"moved\")'");
        Map<String, String> after = TreeSnapshot.of(fx.mnt().resolve("moved"), TreeSnapshot.Options.MERGED);
        assertThat(after).isEqualTo(before);
        assertThat(fx.sh("ls -A")).isEqualTo("moved\n");
        fx.remount();
        assertThat(TreeSnapshot.of(fx.mnt().resolve("moved"), TreeSnapshot.Options.MERGED)).isEqualTo(before);
        assertThat(lowerState(deep)).isEqualTo(lowerBefore);
        // the kernel reads the upper layerfs left (in place: cp -a cannot copy a tree this deep)
        fx.unmount();
        Path kmnt = base.resolve("kmnt");
        Path kwork = base.resolve("kwork");
        Sh.ok("mkdir '" + kmnt + "' '" + kwork + "' && mount -t overlay overlay -o 'lowerdir=" + deep + ",upperdir="
                + fx.upper() + ",workdir=" + kwork + "' '" + kmnt + "'");
        try {
            assertThat(Sh.ok(kmnt, "ls -A")).isEqualTo("moved\n");
            assertThat(TreeSnapshot.of(kmnt.resolve("moved"), TreeSnapshot.Options.MERGED)).isEqualTo(before);
        } finally {
            Sh.run(null, "umount '" + kmnt + "' || umount -l '" + kmnt + "'");
        }
    }

    // ---------------------------------------------------------------- a lower that contains the mountpoint

    /**
     * The mount must be refused; if layerfs mounts anyway it is unmounted at once, untouched: looking inside
     * would make the daemon resolve paths through its own mount, which deadlocks it (a lookup holding the
     * union lock waits for a FUSE request that needs the same lock).
     */
    private void refusedAsContainingTheMountpoint(List<Path> lowers, Path mountpoint, String how) throws IOException {
        Path realMountpoint = mountpoint.toRealPath();
        Path upper = Files.createDirectories(base.resolve("u-" + how));
        Path work = Files.createDirectories(base.resolve("w-" + how));
        OverlayMount m;
        try {
            m = OverlayFs.mount(new OverlayConfig(lowers, upper, work), mountpoint);
        } catch (OverlayConfigException e) {
            if (Mounts.isMountpoint(realMountpoint)) {
                OverlayMount.unmount(realMountpoint);
                fail("refused (" + e.getMessage() + ") but left mounted at " + realMountpoint);
            }
            assertThat(e.getMessage()).as(how).doesNotContain("\n").containsAnyOf("inside layer directory", "contains");
            return;
        }
        m.close();
        fail("a lower containing the mountpoint was mounted (" + how + "): " + lowers + " over " + mountpoint);
    }

    @Test
    void aLowerContainingTheMountpointIsRefused() throws IOException {
        Files.createDirectories(lower.resolve("m"));
        refusedAsContainingTheMountpoint(List.of(lower), lower.resolve("m"), "plain");
        refusedAsContainingTheMountpoint(List.of(base.resolve("host"), base.resolve("lower/d/../")), lower.resolve("m"), "dotdot");
    }

    /*
     * BUG (layerfs): OverlayConfig.validate compares lexical paths (toAbsolutePath().normalize()), so a lower
     * named through a symlinked directory (or a mountpoint under one) that really contains the mountpoint is
     * accepted. The daemon then resolves names through its own mount: `touch m/m/x` hangs the daemon for good
     * (create holds the write lock while its lstat of LOWER/m/x waits on a FUSE lookup that needs the read lock).
     */
    @Test
    void aLowerReachedThroughASymlinkContainingTheMountpointIsRefused() throws IOException {
        Files.createDirectories(lower.resolve("m"));
        Files.createSymbolicLink(base.resolve("alias"), base); // base/alias/lower is base/lower
        refusedAsContainingTheMountpoint(List.of(base.resolve("alias/lower")), lower.resolve("m"), "lower-through-symlink");
    }

    /** BUG (as above): the mountpoint named through a symlink into a lower. */
    @Test
    void aMountpointReachedThroughASymlinkIntoALowerIsRefused() throws IOException {
        Files.createDirectories(lower.resolve("m"));
        Files.createSymbolicLink(base.resolve("into-lower"), lower);
        refusedAsContainingTheMountpoint(List.of(lower), base.resolve("into-lower/m"), "mountpoint-through-symlink");
    }

    /*
     * BUG (layerfs): a mountpoint named through a symlinked directory (say /home -> /var/home) cannot be used.
     * FUSE mounts at the real path, then OverlayFs.mount looks for the lexical path in /proc/self/mountinfo,
     * throws "FUSE could not mount ..." and leaves the mount live and served by its thread (the CLI's daemon
     * exits, so its JVM hook unmounts; `layerfs mount` reports the same misleading error). Kernel overlayfs
     * mounts there.
     */
    @Test
    void aMountpointNamedThroughASymlinkedDirectoryMounts() throws IOException {
        Path real = Files.createDirectories(base.resolve("real/mnt"));
        Files.createSymbolicLink(base.resolve("alias"), base.resolve("real"));
        Path upper = Files.createDirectories(base.resolve("upper"));
        Path work = Files.createDirectories(base.resolve("work"));
        OverlayMount m = null;
        try {
            m = OverlayFs.mount(new OverlayConfig(List.of(lower), upper, work), base.resolve("alias/mnt"));
            assertThat(Files.readString(real.resolve("d/file"))).isEqualTo("lower\n");
        } catch (OverlayConfigException e) {
            boolean left = Mounts.isMountpoint(real);
            if (left) {
                OverlayMount.unmount(real);
            }
            fail("refused: " + e.getMessage() + (left ? "; yet left mounted at " + real : ""));
        } finally {
            if (m != null) {
                m.close();
            }
        }
    }

    /** BUG (as above): a bind mount of a lower names the same directory by another path. */
    @Test
    void aBindMountedLowerContainingTheMountpointIsRefused() throws IOException {
        Files.createDirectories(lower.resolve("m"));
        Path bind = Files.createDirectories(base.resolve("bind"));
        Sh.ok("mount --bind '" + lower + "' '" + bind + "'");
        try {
            refusedAsContainingTheMountpoint(List.of(bind), lower.resolve("m"), "bind-mount");
        } finally {
            Sh.run(null, "umount '" + bind + "' || umount -l '" + bind + "'");
        }
    }
}
