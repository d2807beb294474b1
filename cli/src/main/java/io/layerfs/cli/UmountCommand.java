package io.layerfs.cli;

import io.layerfs.overlay.Mounts;
import io.layerfs.posix.ByteString;
import io.layerfs.posix.Errno;
import io.layerfs.posix.Posix;
import io.layerfs.store.ContainerRecord;
import io.layerfs.store.StoreException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;

/**
 * {@code layerfs umount NAME|MOUNTPOINT}: unmounts a container (keeping its upper, for {@code mount NAME})
 * or any layerfs mount point; the daemon then exits by itself.
 */
@Command(name = "umount", description = "Unmount a container or a layerfs mount point. The upper directory is kept.")
final class UmountCommand implements Callable<Integer> {
    static final String FS_TYPE = "fuse.layerfs";

    @Spec
    CommandSpec spec;

    @Parameters(paramLabel = "NAME|MOUNTPOINT", description = "A container name, or where a filesystem is mounted.")
    String ref;

    @Option(names = {"-l", "--lazy"}, description = "Detach now even if busy; finish when no longer in use.")
    boolean lazy;

    @Override
    public Integer call() throws Exception {
        Optional<ContainerRecord> container = findContainer();
        if (container.isPresent()) {
            Containers c = new Containers(StoreRoot.open(spec));
            if (c.state(container.get()) == Containers.State.UNMOUNTED) {
                throw new UserError("container " + container.get().name() + " is not mounted");
            }
            c.unmount(container.get(), lazy ? Containers.Busy.DETACH : Containers.Busy.REFUSE);
            return 0;
        }
        Path mnt = Mounts.canonical(Path.of(ref));
        String type = Mounts.fsType(mnt);
        if (type == null) {
            throw new UserError(ref + " is neither a container nor a mount point");
        }
        if (!type.equals(FS_TYPE)) {
            throw new UserError(mnt + " is not a layerfs mount (it is " + type + ")");
        }
        try {
            Posix.umount2(ByteString.of(mnt), lazy ? Posix.MNT_DETACH : 0);
        } catch (Errno e) {
            if (e.errno == Containers.EBUSY) {
                throw new UserError(Containers.busyMessage(mnt, "--lazy"));
            }
            throw e;
        }
        return 0;
    }

    /** The container with that name, or mounted at that path, if the store has one. */
    private Optional<ContainerRecord> findContainer() {
        try {
            return Optional.of(new Containers(StoreRoot.open(spec)).find(ref));
        } catch (UserError | StoreException e) { // no such container, or no store here
            return Optional.empty();
        }
    }
}
