package io.layerfs.overlay;

import io.layerfs.testing.TreeSnapshot;

import io.layerfs.testing.TestImages;

import io.layerfs.testing.Sh;

import org.junit.jupiter.api.Test;


import static org.assertj.core.api.Assertions.assertThat;

/**
 * The same scripted operations on a layerfs mount and on a kernel overlayfs mount over identical lowers:
 * each step's output and exit code, the merged trees, and the upper directories must all be the same.
 */
class DifferentialTest {
    /** Each line runs on its own; its output and exit status are part of what is compared. */
    static final String SCRIPT = """
            echo new > tmp/new.txt
            echo more >> tmp/new.txt
            echo appended >> etc/motd
            echo replaced > etc/hostname
            : > app/data/big.txt
            truncate -s 100 etc/profile
            truncate -s 5000 etc/group
            mkdir -p tmp/a/b/c
            mkdir tmp/a
            rmdir etc
            rmdir tmp/a/b/c
            rm usr/share/doc/base/README
            rm -r var/log
            mkdir var/log
            echo fresh > var/log/fresh.log
            ln -s ../etc/passwd tmp/pw-link
            ln -s /nonexistent tmp/dangling
            readlink tmp/pw-link
            ln etc/passwd tmp/pw-hard
            ln tmp/new.txt tmp/new-hard
            mkfifo tmp/fifo
            mknod tmp/null c 1 3
            mv tmp/new.txt tmp/renamed.txt
            mv etc/motd tmp/motd
            mv tmp/renamed.txt etc/hostname
            mv tmp/a tmp/a2
            mv app/bin app/tools
            mv app/cache home/app-cache
            chmod 0640 etc/passwd
            chmod 0700 app/data
            chown 1000:1000 bin/cat
            chown -h 1000:1000 bin/ls
            touch -m -d @1600000000 etc/profile
            setfattr -n user.test -v value etc/group
            setfattr -n user.dir -v yes usr
            rm -r usr/share
            mkdir usr/share
            rmdir home/app
            rm -r home/app
            ls -A home
            cat tmp/motd | tail -1
            rm bin/sh; ln -s busybox bin/sh
            """;

    @Test
    void layerfsMatchesKernelOverlayfs() throws Exception {
        try (MountFixture ours = new MountFixture(TestImages.kernelFormat());
             KernelOverlay kernel = new KernelOverlay(TestImages.kernelFormat())) {
            long started = System.currentTimeMillis() / 1000 - 1;
            for (String line : SCRIPT.strip().split("\n")) {
                Sh.Result a = ours.shResult(line + " 2>&1 | sed 's/^.*: //'; exit ${PIPESTATUS[0]}");
                Sh.Result b = Sh.run(kernel.mnt(), line + " 2>&1 | sed 's/^.*: //'; exit ${PIPESTATUS[0]}");
                assertThat(a.exit() + " " + a.out()).as("step: %s", line).isEqualTo(b.exit() + " " + b.out());
            }
            // each step runs on layerfs, then on the kernel: a new second may begin in between. Files the script
            // changed (on both sides alike, or the comparison below shows it) get one mtime
            String sameTime = "find . -type f -newermt @" + started + " -exec touch -m -d @1800000000 {} +";
            ours.sh(sameTime);
            Sh.ok(kernel.mnt(), sameTime);
            // compared after a remount: until attributes expire, the kernel may show a hard link's other names
            // with the attributes they had before a change through one name (see OverlayConfig.Options)
            ours.remount();
            assertThat(TreeSnapshot.of(ours.mnt(), TreeSnapshot.Options.MERGED))
                    .isEqualTo(TreeSnapshot.of(kernel.mnt(), TreeSnapshot.Options.MERGED));
            ours.unmount();
            kernel.unmount();
            assertThat(TreeSnapshot.of(ours.upper(), TreeSnapshot.Options.UPPER))
                    .isEqualTo(TreeSnapshot.of(kernel.upper(), TreeSnapshot.Options.UPPER));
        }
    }
}
