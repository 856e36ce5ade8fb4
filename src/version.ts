/** Cairn's version; a test keeps it equal to `version` in package.json. */
export const VERSION = "0.1.0";
