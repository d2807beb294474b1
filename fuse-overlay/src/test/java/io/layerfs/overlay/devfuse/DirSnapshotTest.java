package io.layerfs.overlay.devfuse;

import io.layerfs.overlay.union.DirListing;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.function.ToLongFunction;

import static org.assertj.core.api.Assertions.assertThat;

/** Readdir cookies: ordered, distinct, derived from names, and the same in every snapshot of the same names. */
class DirSnapshotTest {
    /** Names "a*" all hash to 100, "b*" to 50, others by their length. */
    static final ToLongFunction<String> COLLIDING = n -> n.startsWith("a") ? 100 : n.startsWith("b") ? 50 : 1000 + n.length();

    static DirListing listing(String... names) {
        List<DirListing.Entry> entries = new ArrayList<>();
        for (String n : names) {
            entries.add(new DirListing.Entry(n, 1, 0));
        }
        return new DirListing(1, 1, entries);
    }

    static List<String> order(DirSnapshot s) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < s.size(); i++) {
            out.add(s.entry(i).name());
        }
        return out;
    }

    @Test
    void collidingNamesAreOrderedByNameWithDistinctCookies() {
        DirSnapshot s = new DirSnapshot(listing("a3", "xyz", "b1", "a1", "a2", "b0", "q"), COLLIDING);
        assertThat(order(s)).containsExactly("b0", "b1", "a1", "a2", "a3", "q", "xyz");
        for (int i = 1; i < s.size(); i++) {
            assertThat(s.cookie(i)).isGreaterThan(s.cookie(i - 1));
        }
        assertThat(s.cookie(0)).isEqualTo(50);
        assertThat(s.cookie(2)).isEqualTo(100);
        assertThat(s.cookie(3)).isEqualTo(101);
        // the same names listed in another order get the same cookies
        DirSnapshot t = new DirSnapshot(listing("b0", "q", "a2", "xyz", "a1", "b1", "a3"), COLLIDING);
        assertThat(order(t)).isEqualTo(order(s));
        for (int i = 0; i < s.size(); i++) {
            assertThat(t.cookie(i)).isEqualTo(s.cookie(i));
        }
    }

    @Test
    void continuesAfterAnyCookieEvenOfANameSinceRemoved() {
        DirSnapshot s = new DirSnapshot(listing("n1", "n2", "n3", "n4", "n5"));
        DirSnapshot without = new DirSnapshot(listing("n1", "n2", "n4", "n5"));
        int i = order(s).indexOf("n3");
        int next = without.firstAfter(s.cookie(i));
        // whatever followed n3 in the first snapshot follows its cookie in the second
        assertThat(next == without.size() ? null : without.entry(next).name())
                .isEqualTo(i + 1 == s.size() ? null : s.entry(i + 1).name());
        assertThat(s.firstAfter(0)).isZero();
        assertThat(s.firstAfter(DirSnapshot.AFTER_DOTDOT)).isZero();
        assertThat(s.firstAfter(s.cookie(s.size() - 1))).isEqualTo(s.size());
        assertThat(s.cookie(0)).isGreaterThan(DirSnapshot.AFTER_DOTDOT);
    }
}
