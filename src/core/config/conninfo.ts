/**
 * The libpq parameters a connection string may hold here. hostaddr and application_name are parsed so the config
 * can refuse them by name (see core/config/connection.ts); any other parameter is refused by the parser.
 */
const KNOWN = [
  'host',
  'hostaddr',
  'port',
  'user',
  'password',
  'dbname',
  'sslmode',
  'sslrootcert',
  'connect_timeout',
  'application_name',
] as const;
type ConnInfoKey = (typeof KNOWN)[number];

/** libpq connection strings: key=value form (with quoting) and postgres:// URLs. */
export type ConnInfo = Partial<Record<ConnInfoKey, string>>;

function isKnown(key: string): key is ConnInfoKey {
  return (KNOWN as readonly string[]).includes(key);
}

export function parseConnInfo(input: string): ConnInfo | string {
  const s = input.trim();
  if (/^postgres(ql)?:\/\//i.test(s)) return parseUrl(s);
  if (!s.includes('=')) return { dbname: s };
  return parseKeyValue(s);
}

function parseUrl(s: string): ConnInfo | string {
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    return 'not a valid postgres:// URL';
  }
  const out: ConnInfo = {};
  try {
    if (u.hostname) out.host = decodeURIComponent(u.hostname.replace(/^\[|\]$/g, ''));
    if (u.port) out.port = u.port;
    if (u.username) out.user = decodeURIComponent(u.username);
    if (u.password) out.password = decodeURIComponent(u.password);
    const db = decodeURIComponent(u.pathname.replace(/^\//, ''));
    if (db) out.dbname = db;
  } catch {
    // decodeURIComponent throws URIError on "%ZZ": a config error, not a crash (and the value is not echoed).
    return 'not a valid postgres:// URL (bad percent-encoding)';
  }
  for (const [k, v] of u.searchParams) {
    if (!isKnown(k)) return `unsupported connection parameter "${k}"`;
    out[k] = v;
  }
  return out;
}

function parseKeyValue(s: string): ConnInfo | string {
  const out: ConnInfo = {};
  let i = 0;
  while (i < s.length) {
    while (i < s.length && /\s/.test(s[i]!)) i++;
    if (i >= s.length) break;
    const eq = s.indexOf('=', i);
    if (eq === -1) return 'conninfo must be key=value pairs';
    const key = s.slice(i, eq).trim();
    i = eq + 1;
    while (i < s.length && /\s/.test(s[i]!)) i++;
    let value = '';
    if (s[i] === "'") {
      i++;
      let closed = false;
      while (i < s.length) {
        const c = s[i]!;
        if (c === '\\' && i + 1 < s.length) {
          value += s[i + 1];
          i += 2;
          continue;
        }
        if (c === "'") {
          closed = true;
          i++;
          break;
        }
        value += c;
        i++;
      }
      if (!closed) return 'unterminated quoted value in conninfo';
    } else {
      while (i < s.length && !/\s/.test(s[i]!)) {
        if (s[i] === '\\' && i + 1 < s.length) {
          value += s[i + 1];
          i += 2;
          continue;
        }
        value += s[i];
        i++;
      }
    }
    if (!isKnown(key)) return `unsupported connection parameter "${key}"`;
    out[key] = value;
  }
  return out;
}

/** Quote a value for a libpq key=value conninfo (so a database name can never be read as more parameters). */
export function quoteConnValue(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}
