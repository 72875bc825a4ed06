// A TCP server that speaks just enough of the PostgreSQL protocol to pose as a server: it declines TLS
// (SSLRequest/GSSENCRequest ⇒ 'N'), reads the startup message and asks for a password the way a spoofing
// server would (cleartext or MD5). Everything the client sends is kept, to prove what did (not) reach the socket.
import net from 'node:net';

export type FakePgServer = {
  readonly port: number;
  /** All bytes received, over all connections. */
  received(): Buffer;
  stop(): Promise<void>;
};

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;

export async function startFakePgServer(ask: 'cleartext' | 'md5'): Promise<FakePgServer> {
  const chunks: Buffer[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => undefined);
    let buf = Buffer.alloc(0);
    let started = false;
    sock.on('data', (c: Buffer) => {
      chunks.push(c);
      buf = Buffer.concat([buf, c]);
      while (!started && buf.length >= 8) {
        const len = buf.readInt32BE(0);
        if (buf.length < len) return;
        const code = buf.readInt32BE(4);
        buf = buf.subarray(len);
        if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
          sock.write('N');
          continue;
        }
        started = true;
        // AuthenticationCleartextPassword (3) or AuthenticationMD5Password (5) with a 4-byte salt.
        sock.write(
          ask === 'cleartext' ? Buffer.from([0x52, 0, 0, 0, 8, 0, 0, 0, 3]) : Buffer.from([0x52, 0, 0, 0, 12, 0, 0, 0, 5, 1, 2, 3, 4]),
        );
        // A real server would now wait for the answer; give the client a moment, then hang up.
        setTimeout(() => sock.destroy(), 1000).unref();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    received: () => Buffer.concat(chunks),
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
