/**
 * Text from the bucket (database names decoded from keys, manifest fields, verify records, tool output quoting
 * them) can hold terminal control sequences: ESC ] sets the window title, OSC 8 plants links, CSI moves the
 * cursor or hides text. Human output shows them as visible `\u00XX` escapes instead (also valid inside JSON
 * strings, so one choke point serves both). Newline and tab are kept: they are our own layout.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the purpose
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029]/g;
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the purpose
const CONTROL_ALL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

function visible(c: string): string {
  return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
}

/** Every C0 and C1 control character (and DEL) made visible, newline and tab kept. */
export function escapeControl(text: string): string {
  return text.replace(CONTROL, visible);
}

/** Same, newline and tab included: for one table cell or one line. */
export function escapeControlAll(text: string): string {
  return text.replace(CONTROL_ALL, visible);
}
