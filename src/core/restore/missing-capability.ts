/**
 * What the verifying server lacked, read from the restore's error output. Only these server-side gaps make a
 * verification inconclusive ("could not verify"); every other restore failure is a verdict on the backup.
 * Each pattern is PostgreSQL's own message text (English: the throwaway server runs with lc_messages=C).
 */
const RULES: readonly { readonly re: RegExp; readonly what: (m: RegExpMatchArray) => string }[] = [
  { re: /compression method (\w+) not supported/g, what: (m) => `column compression method ${m[1]} (the server was built without it)` },
  { re: /invalid value for parameter "default_toast_compression": "(\w+)"/g, what: (m) => `column compression method ${m[1]}` },
  { re: /extension "([^"]+)" is not available/g, what: (m) => `extension ${m[1]} (not installed on the verifying server)` },
  {
    re: /could not open extension control file "[^"]*\/([^/"]+)\.control"/g,
    what: (m) => `extension ${m[1]} (not installed on the verifying server)`,
  },
  {
    re: /permission denied to create extension "([^"]+)"/g,
    what: (m) => `extension ${m[1]} (not trusted: only a superuser may create it, and verify restores without superuser)`,
  },
  { re: /ICU is not supported in this build/g, what: () => 'ICU collations (the server was built without ICU)' },
  { re: /could not (?:create|open) (?:ICU )?(?:locale|collator) "([^"]+)"/g, what: (m) => `ICU locale ${m[1]}` },
  { re: /must be superuser to ([^\n.]+)/g, what: (m) => `superuser privilege to ${m[1]!.trim()} (verify restores without superuser)` },
  { re: /tablespace "([^"]+)" does not exist/g, what: (m) => `tablespace ${m[1]}` },
  { re: /could not access file "([^"]+)": No such file or directory/g, what: (m) => `server library ${m[1]}` },
];

export function missingCapabilities(stderr: string): string[] {
  const found = new Set<string>();
  for (const rule of RULES) for (const m of stderr.matchAll(rule.re)) found.add(rule.what(m));
  return [...found];
}
