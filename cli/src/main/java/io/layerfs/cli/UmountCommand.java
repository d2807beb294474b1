package io.layerfs.cli;

import io.layerfs.overlay.Mounts;
import io.layerfs.posix.ByteString;
import io.layerfs.posix.Errno;
import io.layerfs.posix.Posix;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code layerfs umount MOUNTPOINT}: unmounts a layerfs mount; the daemon then exits by itself. */
@Command(name = "umount", description = "Unmount a layerfs mount point. The upper directory is kept.")
final class UmountCommand implements Callable<Integer> {
    static final String FS_TYPE = "fuse.layerfs";

    @Parameters(paramLabel = "MOUNTPOINT", description = "Where the filesystem is mounted.")
    Path mountpoint;

    @Option(names = {"-l", "--lazy"}, description = "Detach now even if busy; finish when no longer in use.")
    boolean lazy;

    @Override
    public Integer call() {
        Path mnt = mountpoint.toAbsolutePath().normalize();
        String type = Mounts.fsType(mnt);
        if (type == null) {
            throw new UserError(mnt + " is not a mount point");
        }
        if (!type.equals(FS_TYPE)) {
            throw new UserError(mnt + " is not a layerfs mount (it is " + type + ")");
        }
        if (lazy) {
            Posix.umount2(ByteString.of(mnt), Posix.MNT_DETACH);
            return 0;
        }
        try {
            Posix.umount2(ByteString.of(mnt), 0);
        } catch (Errno e) {
            if (e.errno == 16) { // EBUSY
                throw new UserError(mnt + " is busy (a process uses it); close it or use --lazy");
            }
            throw e;
        }
        return 0;
    }
}
