package io.layerfs.store;

import java.util.List;

/**
 * A container layer: a writable upper over stored layers, mounted somewhere. Stored as
 * {@code containers/<name>/container.json} beside its {@code upper/}, {@code work/} and log.
 *
 * @param name       unique name
 * @param image      the image it was made from, or null when mounted from layers
 * @param layers     diffIDs of its lowers, bottom-most first
 * @param mountpoint where it is (or was last) mounted
 * @param pid        the daemon serving it, or 0 when not mounted
 * @param created    when it was created (ISO-8601)
 * @param removing   set when a teardown has started, so an interrupted one finishes on the next rm
 * @param binding    the FUSE binding it was last mounted with ("dev-fuse", "jnr-fuse"); null in records
 *                   written before it was kept
 */
public record ContainerRecord(String name, String image, List<String> layers, String mountpoint, long pid,
                              String created, boolean removing, String binding) {
    public ContainerRecord withPid(long newPid) {
        return new ContainerRecord(name, image, layers, mountpoint, newPid, created, removing, binding);
    }

    public ContainerRecord withRemoving() {
        return new ContainerRecord(name, image, layers, mountpoint, pid, created, true, binding);
    }

    public ContainerRecord withBinding(String value) {
        return new ContainerRecord(name, image, layers, mountpoint, pid, created, removing, value);
    }
}
