import { connect, createServer, type ConnectionOptions, type TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';

/** A real mutual-TLS server on 127.0.0.1 that records the client certificate serial of every connection. */
export interface TestTlsServer {
  readonly port: number;
  /** Client certificate serials (upper-case hex), in accept order. */
  readonly clientSerials: string[];
  close(): Promise<void>;
}

export async function startMtlsServer(opts: { cert: string; key: string; ca: string }): Promise<TestTlsServer> {
  const clientSerials: string[] = [];
  const sockets = new Set<TLSSocket>();
  const server = createServer({ cert: opts.cert, key: opts.key, ca: opts.ca, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2' }, (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    clientSerials.push(socket.getPeerCertificate().serialNumber.toUpperCase());
    socket.end('ok');
  });
  server.on('tlsClientError', () => {
    // refused handshakes are what some tests expect
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    clientSerials,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => { resolve(); });
      }),
  };
}

/** Opens one TLS connection, waits for the server's reply and closes; resolves with the server leaf serial. */
export function connectOnce(port: number, options: ConnectionOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ...options });
    socket.setTimeout(5000, () => socket.destroy(new Error('timeout')));
    socket.on('error', reject);
    socket.on('secureConnect', () => {
      const serial = socket.getPeerCertificate().serialNumber.toUpperCase();
      socket.on('data', () => undefined);
      socket.on('end', () => {
        socket.end();
        resolve(serial);
      });
    });
  });
}
