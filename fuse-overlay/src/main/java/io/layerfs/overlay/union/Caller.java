package io.layerfs.overlay.union;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Who asked: the uid and gid that new objects are owned by, and the process (0 when the kernel asked itself). */
public record Caller(int uid, int gid, int pid) {

    /**
     * Whether the caller counts as a member of group {@code group} for the VFS's set-group-id rule
     * (in_group_or_capable): root, its own gid, or one of its supplementary groups.
     */
    public boolean inGroup(int group) {
        return uid == 0 || gid == group || pid > 0 && supplementaryGroups(pid).contains(" " + group + " ");
    }

    /** The "Groups:" line of /proc/PID/status, padded with spaces; empty if the process is gone. */
    private static String supplementaryGroups(int pid) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
                if (line.startsWith("Groups:")) {
                    return " " + line.substring("Groups:".length()).trim().replace('\t', ' ') + " ";
                }
            }
        } catch (IOException e) {
            // gone: no supplementary groups to count
        }
        return "";
    }
}
