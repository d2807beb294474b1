package io.layerfs.cli;

import picocli.CommandLine.IVersionProvider;

/** The version from the jar's manifest (set by Maven), or "dev" when run from classes. */
final class Version implements IVersionProvider {
    @Override
    public String[] getVersion() {
        String v = Layerfs.class.getPackage().getImplementationVersion();
        return new String[]{"layerfs " + (v == null ? "dev" : v)};
    }
}
