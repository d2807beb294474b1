package io.layerfs.layer;

import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarConstants;
import org.apache.commons.compress.archivers.zip.ZipEncoding;
import org.apache.commons.compress.archivers.zip.ZipEncodingHelper;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/** The writer's own tar entries: the same header bytes as commons-compress writes, for names of any length. */
class LayerTarWriterTest {
    private static final ZipEncoding UTF8 = ZipEncodingHelper.getZipEncoding("UTF-8");
    /**
     * One-, two-, three- and four-byte characters (a surrogate pair), so the 100-byte cut falls inside them; mostly
     * ASCII, so that 100 characters often fit.
     */
    private static final String[] PIECES = {"a", "b", "c", "/", ".", "-", "a", "b", "c", "d", "e", "f", "g", "h",
            "\u00e9", "\u20ac", "\ud83d\ude00", "\u00ff"};

    private static byte[] header(TarArchiveEntry e) throws IOException {
        byte[] buf = new byte[TarConstants.DEFAULT_RCDSIZE];
        e.writeEntryHeader(buf, UTF8, false);
        return buf;
    }

    private static String name(Random r, int chars) {
        StringBuilder b = new StringBuilder();
        while (b.length() < chars) {
            b.append(PIECES[r.nextInt(PIECES.length)]);
        }
        return b.toString();
    }

    @Test
    void longNamesGiveTheSameHeaderBytesAsCommonsCompress() throws IOException {
        Random r = new Random(6);
        for (int i = 0; i < 2000; i++) {
            String name = i % 10 == 0 ? "n".repeat(90 + i % 30) // and all ASCII: exactly 100 fit
                    : name(r, 1 + r.nextInt(i < 1800 ? 130 : 1000)); // (commons-compress itself is slow on long ones)
            String link = r.nextBoolean() ? "" : name(r, 1 + r.nextInt(300));
            byte type = link.isEmpty() ? TarConstants.LF_NORMAL : TarConstants.LF_SYMLINK;
            TarArchiveEntry theirs = new TarArchiveEntry(name, type, true);
            LayerTarWriter.Entry ours = new LayerTarWriter.Entry(name, type);
            theirs.setLinkName(link);
            ours.setLinkName(link);
            assertThat(header(ours)).as("name %s link %s", name, link).isEqualTo(header(theirs));
            assertThat(ours.getName()).isEqualTo(name); // restored after the header is written
            assertThat(ours.getLinkName()).isEqualTo(link);
        }
    }
}
