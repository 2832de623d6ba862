// Types for gen-validator.mjs, so the drift test can import it.
export declare const SCHEMA_PATH: string;
export declare const JS_PATH: string;
export declare const DTS_PATH: string;
/** The validator module and its declarations, generated from the schema on disk. */
export declare function generate(): { js: string; dts: string };
