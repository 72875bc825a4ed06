/** PostgreSQL's identifier limit (NAMEDATALEN - 1): a longer name is truncated by the server, so it is refused here. */
export const MAX_NAME_BYTES = 63;
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what this pattern rejects
const CONTROL = /[\u0000-\u001f\u007f]/;

/** PostgreSQL identifiers: up to MAX_NAME_BYTES bytes, no control characters (NUL cannot exist in a name). */
export function checkDatabaseName(name: string): string | undefined {
  if (name.length === 0) return 'database name is empty';
  if (Buffer.byteLength(name, 'utf8') > MAX_NAME_BYTES) return `database name is longer than ${MAX_NAME_BYTES} bytes`;
  if (CONTROL.test(name)) return 'database name contains control characters';
  return undefined;
}
