// Throwaway certificate authorities and server certificates for TLS tests (openssl CLI; EC P-256 keys,
// because RSA key generation costs hundreds of milliseconds on this 2-core machine).
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { run } from './process.ts';

export type TestCa = { certFile: string; keyFile: string; name: string };
export type ServerCert = { certFile: string; keyFile: string };

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
const DAYS = '3';

/** A self-signed CA in `dir` (ca.crt, ca.key). */
export async function createCa(dir: string, name = 'rds-s3-backup test CA'): Promise<TestCa> {
  await mkdir(dir, { recursive: true });
  const certFile = path.join(dir, 'ca.crt');
  const keyFile = path.join(dir, 'ca.key');
  await run('openssl', [
    'req',
    '-x509',
    '-new',
    ...EC_KEY,
    '-keyout',
    keyFile,
    '-out',
    certFile,
    '-days',
    DAYS,
    '-subj',
    `/CN=${name} ${randomBytes(4).toString('hex')}`,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  return { certFile, keyFile, name };
}

/** A server certificate signed by `ca`, valid for `localhost` and 127.0.0.1 by default. */
export async function issueServerCert(
  ca: TestCa,
  dir: string,
  opts: { basename?: string; dnsNames?: string[]; ips?: string[] } = {},
): Promise<ServerCert> {
  await mkdir(dir, { recursive: true });
  const base = path.join(dir, opts.basename ?? 'server');
  const certFile = `${base}.crt`;
  const keyFile = `${base}.key`;
  const csrFile = `${base}.csr`;
  const extFile = `${base}.ext`;
  const dnsNames = opts.dnsNames ?? ['localhost'];
  const ips = opts.ips ?? ['127.0.0.1'];
  const san = [...dnsNames.map((name) => `DNS:${name}`), ...ips.map((ip) => `IP:${ip}`)].join(',');
  await writeFile(
    extFile,
    [
      `subjectAltName=${san}`,
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage=serverAuth',
    ].join('\n') + '\n',
  );
  await run('openssl', ['req', '-new', ...EC_KEY, '-keyout', keyFile, '-out', csrFile, '-subj', `/CN=${dnsNames[0] ?? ips[0]}`]);
  await run('openssl', [
    'x509',
    '-req',
    '-in',
    csrFile,
    '-CA',
    ca.certFile,
    '-CAkey',
    ca.keyFile,
    '-set_serial',
    `0x${randomBytes(8).toString('hex')}`,
    '-days',
    DAYS,
    '-extfile',
    extFile,
    '-out',
    certFile,
  ]);
  await rm(csrFile, { force: true });
  await rm(extFile, { force: true });
  return { certFile, keyFile };
}
