// meshguard's Service on loopback, reduced to what a rolling update needs: kube-apiserver calls
// `https://127.0.0.1:<port>` (a `url` webhook, as the suite has no cluster network), and this
// forwarder stands in for kube-proxy. Each new TCP connection goes to the current endpoint and stays
// with it for its whole life, as conntrack keeps an established connection on the pod it went to
// whatever the endpoints become. An endpoint change takes effect only after a lag: in a cluster the
// pod's removal travels from the EndpointSlice controller to kube-proxy on every node while the pod is
// already terminating, so kube-apiserver keeps reaching the old pod for a second or more after SIGTERM.
// TLS passes through untouched: kube-apiserver verifies meshguard's certificate, as through a Service.
import { connect, createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

export interface LoopbackService {
  port: number;
  url: string;
  /** New connections go to `endpointPort` from `lagMs` from now; resolves then. */
  moveTo(endpointPort: number, lagMs: number): Promise<void>;
  close(): Promise<void>;
}

export async function startLoopbackService(endpointPort: number): Promise<LoopbackService> {
  let endpoint = endpointPort;
  const sockets = new Set<Socket>();
  const track = (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  };
  const server = createServer((client) => {
    // A connection to an endpoint that stopped listening is refused; the client sees its
    // connection reset, as it would with the RST from a pod that no longer listens.
    const upstream = connect(endpoint, '127.0.0.1');
    track(client);
    track(upstream);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `https://127.0.0.1:${port}`,
    moveTo: (endpointPort, lagMs) =>
      new Promise((ok) =>
        setTimeout(() => {
          endpoint = endpointPort;
          ok();
        }, lagMs),
      ),
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((ok) => server.close(() => ok()));
    },
  };
}
