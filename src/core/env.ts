/**
 * The process environment as the code below the entrypoints sees it: handed down from cli/ or lambda/, never read
 * from `process.env` at depth, so a test (or the Lambda) decides exactly what the S3 client and the pg tools see.
 */
export type Env = Readonly<Record<string, string | undefined>>;
