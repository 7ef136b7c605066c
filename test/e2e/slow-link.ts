// A TCP forwarder on loopback that delivers what the server sends `lagMs` late, in order. Between
// meshguard and kube-apiserver it stands in for a busy cluster, where watch events reach an informer
// a few hundred milliseconds (under load, seconds) after the write: on loopback they arrive within a
// millisecond, which hides every race with the cache. TLS passes through untouched (the API server's
// certificate is for 127.0.0.1, whatever the port).
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';

export interface SlowLink {
  port: number;
  close(): Promise<void>;
}

export async function startSlowLink(targetPort: number, lagMs: number): Promise<SlowLink> {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.once('close', () => sockets.delete(s));
    }
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end);
    client.pipe(upstream);
    // Every chunk and the end are delayed alike, so the stream keeps its order.
    upstream.on('data', (chunk: Buffer) => setTimeout(() => client.writable && client.write(chunk), lagMs));
    upstream.on('close', () => setTimeout(end, lagMs));
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return {
    port: (server.address() as AddressInfo).port,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((ok) => server.close(() => ok()));
    },
  };
}
