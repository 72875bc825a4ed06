// A rate-limited TCP proxy in front of PostgreSQL: a slow database link, for the tests that need a dump to take
// a known, long time (progress estimates, the Lambda's early abort). Each connection's server→client bytes are
// limited to `bytesPerSecond` (its own budget, so a small query on another session is not starved); client→server
// passes unchanged. TLS passes through untouched (it is bytes to the proxy). Listens only on 127.0.0.1.
import net from 'node:net';

export type PgThrottle = {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** Server→client bytes forwarded so far, over all connections. */
  readonly forwarded: () => number;
  stop(): Promise<void>;
};

export async function startPgThrottle(target: { host: string; port: number }, bytesPerSecond: number): Promise<PgThrottle> {
  const rate = bytesPerSecond;
  let total = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, target.host);
    sockets.add(client);
    sockets.add(upstream);
    // When the bytes sent so far are paid for: idle time earns no credit, so a COPY after slow catalog
    // queries does not start with a burst.
    let paidUntil = Date.now();
    client.on('data', (d) => upstream.write(d));
    upstream.on('data', (d) => {
      total += d.length;
      paidUntil = Math.max(paidUntil, Date.now()) + (d.length / rate) * 1000;
      const ok = client.write(d);
      const aheadMs = paidUntil - Date.now();
      if (aheadMs > 0 || !ok) {
        upstream.pause();
        const resume = (): void => {
          if (!upstream.destroyed) upstream.resume();
        };
        if (aheadMs > 0) setTimeout(() => (ok ? resume() : client.once('drain', resume)), aheadMs);
        else client.once('drain', resume);
      }
    });
    const close = (): void => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', close);
    upstream.on('close', close);
    client.on('error', close);
    upstream.on('error', close);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    host: '127.0.0.1',
    port,
    forwarded: () => total,
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
