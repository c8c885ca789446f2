import { once } from 'node:events';
import { connect, type TLSSocket } from 'node:tls';
import { setTimeout as sleep } from 'node:timers/promises';
import { BSON, type Document } from 'bson';
import { MongoClient, MongoServerError } from 'mongodb';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { FrameReader, OP_MSG, OP_QUERY, OP_REPLY } from '../fixtures/mongo/wire.js';
import { createMongoHarness, fixtureUri, SERVICE_ID, type MongoHarness } from './harness.js';

function header(length: number, requestId: number, opCode: number): Buffer {
  const h = Buffer.alloc(16);
  h.writeInt32LE(length, 0);
  h.writeInt32LE(requestId, 4);
  h.writeInt32LE(0, 8);
  h.writeInt32LE(opCode, 12);
  return h;
}

function opQuery(requestId: number, ns: string, query: Document): Buffer {
  const name = Buffer.from(`${ns}\0`);
  const body = Buffer.concat([Buffer.alloc(4), name, Buffer.from([0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]), Buffer.from(BSON.serialize(query))]);
  return Buffer.concat([header(16 + body.length, requestId, OP_QUERY), body]);
}

function opMsg(requestId: number, body: Document, sequences: [string, Document[]][] = [], flags = 0): Buffer {
  const parts: Buffer[] = [Buffer.alloc(4)];
  parts[0]!.writeUInt32LE(flags, 0);
  parts.push(Buffer.from([0]), Buffer.from(BSON.serialize(body)));
  for (const [id, docs] of sequences) {
    const payload = Buffer.concat([Buffer.from(`${id}\0`), ...docs.map((d) => Buffer.from(BSON.serialize(d)))]);
    const size = Buffer.alloc(4);
    size.writeInt32LE(payload.length + 4, 0);
    parts.push(Buffer.from([1]), size, payload);
  }
  if ((flags & 1) !== 0) parts.push(Buffer.alloc(4)); // checksum (not verified by the fixture)
  const rest = Buffer.concat(parts);
  return Buffer.concat([header(16 + rest.length, requestId, OP_MSG), rest]);
}

class RawConnection {
  readonly #reader = new FrameReader();
  readonly #frames: Buffer[] = [];
  readonly socket: TLSSocket;

  constructor(socket: TLSSocket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => this.#frames.push(...this.#reader.push(chunk)));
  }

  async reply(): Promise<{ opCode: number; doc: Document }> {
    const deadline = Date.now() + 5000;
    while (this.#frames.length === 0) {
      if (Date.now() > deadline) throw new Error('no reply');
      await sleep(5);
    }
    const frame = this.#frames.shift()!;
    const opCode = frame.readInt32LE(12);
    const offset = opCode === OP_REPLY ? 16 + 20 : 16 + 5;
    return { opCode, doc: BSON.deserialize(frame.subarray(offset)) };
  }

  get pending(): number {
    return this.#frames.length;
  }
}

describe('MongoDB wire-protocol test server', () => {
  let h: MongoHarness;

  beforeAll(async () => {
    h = await createMongoHarness();
  });

  afterAll(async () => {
    await h.close();
  });

  async function rawConnect(withCert = true): Promise<RawConnection> {
    const gen = h.certificates.current();
    const socket = connect({
      host: '127.0.0.1',
      port: h.server.port,
      ca: gen.bundlePem,
      ...(withCert ? { cert: gen.certificatePem, key: gen.privateKeyPem } : {}),
      servername: 'localhost',
    });
    await once(socket, 'secureConnect');
    return new RawConnection(socket);
  }

  test('answers the OP_QUERY handshake with OP_REPLY, then speaks OP_MSG with kind-1 sections, checksums and moreToCome', async () => {
    const conn = await rawConnect();
    try {
      conn.socket.write(opQuery(1, 'admin.$cmd', { ismaster: 1, helloOk: true, client: { driver: { name: 'raw' } } }));
      const hello = await conn.reply();
      expect(hello.opCode).toBe(OP_REPLY);
      expect(hello.doc).toMatchObject({ ismaster: true, isWritablePrimary: true, maxWireVersion: 21, minWireVersion: 0, logicalSessionTimeoutMinutes: 30, helloOk: true, ok: 1 });
      expect(hello.doc.topologyVersion).toBeUndefined();

      conn.socket.write(opMsg(2, { find: 'raw', filter: {}, $db: 'orders' }));
      expect((await conn.reply()).doc).toMatchObject({ ok: 0, code: 13, codeName: 'Unauthorized' });

      conn.socket.write(opMsg(3, { authenticate: 1, mechanism: 'MONGODB-X509', $db: '$external' }));
      expect((await conn.reply()).doc).toMatchObject({ ok: 1, user: SERVICE_ID });

      // kind-1 document sequence + checksumPresent, split over two writes (a partial frame).
      const insert = opMsg(4, { insert: 'raw', $db: 'orders' }, [['documents', [{ _id: 1 }, { _id: 2 }]]], 1);
      conn.socket.write(insert.subarray(0, 10));
      await sleep(20);
      conn.socket.write(insert.subarray(10));
      const inserted = await conn.reply();
      expect(inserted.opCode).toBe(OP_MSG);
      expect(inserted.doc).toMatchObject({ n: 2, ok: 1 });

      // moreToCome (w:0): applied, no reply.
      conn.socket.write(opMsg(5, { insert: 'raw', documents: [{ _id: 3 }], writeConcern: { w: 0 }, $db: 'orders' }, [], 2));
      conn.socket.write(opMsg(6, { count: 'raw', $db: 'orders' }));
      const count = await conn.reply();
      expect(count.doc).toMatchObject({ n: 3, ok: 1 });
      expect(conn.pending).toBe(0);
    } finally {
      conn.socket.destroy();
    }
  });

  test('requires a client certificate from the test CA', async () => {
    const gen = h.certificates.current();
    const accepted = h.server.connectionCount;
    const socket = connect({ host: '127.0.0.1', port: h.server.port, ca: gen.bundlePem, servername: 'localhost' });
    const outcome = await new Promise<unknown>((resolve) => {
      socket.once('error', resolve);
      // With TLS 1.3 the server's rejection arrives after the client's side of the handshake.
      socket.once('secureConnect', () => socket.write(opQuery(1, 'admin.$cmd', { ismaster: 1 })));
      socket.once('close', () => {
        resolve('closed');
      });
    });
    socket.destroy();
    expect(String(outcome)).toMatch(/certificate required|closed|ECONNRESET/);
    expect(h.server.connectionCount).toBe(accepted);
  });

  test('the real driver without credentials can connect (monitoring needs no auth) but data commands are Unauthorized (13)', async () => {
    const gen = h.certificates.current();
    const client = new MongoClient(fixtureUri(h.server), { tls: true, secureContext: gen.secureContext });
    try {
      await client.connect();
      const error = await client.db('orders').collection('raw').findOne({}).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(MongoServerError);
      expect((error as MongoServerError).code).toBe(13);
    } finally {
      await client.close();
    }
  });

  test('forced errors fire the given number of times and carry error labels', async () => {
    const gen = h.certificates.current();
    const client = new MongoClient(fixtureUri(h.server), { tls: true, secureContext: gen.secureContext, authMechanism: 'MONGODB-X509', retryReads: false });
    try {
      const c = client.db('orders').collection('forced');
      h.server.forceError('find', { code: 189, labels: ['ResetPool'], times: 1 });
      const error = (await c.findOne({}).catch((e: unknown) => e)) as MongoServerError;
      expect(error.code).toBe(189);
      expect(error.hasErrorLabel('ResetPool')).toBe(true);
      expect(await c.findOne({})).toBeNull();
    } finally {
      await client.close();
    }
  });
});
