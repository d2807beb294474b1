package io.layerfs.store;

import java.util.regex.Pattern;

/** Image names: letters, digits and {@code . _ : -}, as a tag would be; they name files in the store. */
public final class ImageNames {
    private static final Pattern VALID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._:-]{0,127}");

    private ImageNames() {
    }

    public static String check(String name) {
        if (!VALID.matcher(name).matches()) {
            throw new StoreException("invalid image name '" + name + "': use letters, digits and . _ : - (at most 128)");
        }
        return name;
    }
}
