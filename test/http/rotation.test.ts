import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createHttpFixture, nextRotation, type HttpFixture } from './helpers.js';

let fx: HttpFixture;

beforeAll(async () => {
  fx = await createHttpFixture();
  fx.server.docs.set('seed', '{"seed":true}');
});
afterAll(async () => {
  await fx.cleanup();
});
beforeEach(() => {
  fx.server.setDelay(0);
  fx.server.resetCounters();
});

const serial = (): string => fx.certs.current().serialNumber.toUpperCase();

async function rotate(): Promise<string> {
  const rotated = nextRotation(fx.certs);
  await fx.pki.rotate();
  await rotated;
  return serial();
}

async function waitFor(predicate: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !predicate(); i++) await sleep(5);
  expect(predicate()).toBe(true);
}

describe('certificate rotation', () => {
  it('an in-flight request finishes on its old-certificate socket; the next one uses the new certificate', async () => {
    const client = fx.client();
    const warm = await client.request({ method: 'GET', path: '/v1/docs/seed' });
    await warm.body.dump();
    const oldSerial = serial();
    fx.server.resetCounters();
    fx.server.setDelay(300);
    const inflight = client.request({ method: 'GET', path: '/v1/docs/seed' });
    await waitFor(() => fx.server.requestCount() === 1);
    const newSerial = await rotate();
    expect(newSerial).not.toBe(oldSerial);
    const res = await inflight;
    expect(res.statusCode).toBe(200);
    expect(await res.body.json()).toEqual({ seed: true });
    fx.server.setDelay(0);
    const after = await client.request({ method: 'GET', path: '/v1/docs/seed' });
    expect(after.statusCode).toBe(200);
    await after.body.dump();
    expect(fx.server.requestSerials[0]).toBe(oldSerial);
    expect(fx.server.requestSerials.at(-1)).toBe(newSerial);
    expect(fx.server.connections.at(-1)?.serial).toBe(newSerial);
  });

  it('rotation under concurrent load: 8 workers for ~2 s, two rotations, 0 failures; new connections present the new certificate', async () => {
    const client = fx.client();
    const serials = [serial()];
    let stop = false;
    let ok = 0;
    const failures: unknown[] = [];
    const worker = async (w: number): Promise<void> => {
      for (let i = 0; !stop; i++) {
        try {
          const write = i % 4 === 3;
          const res = write
            ? await client.request({ method: 'PUT', path: `/v1/docs/w${w}-${i % 5}`, body: JSON.stringify({ w, i }) })
            : await client.request({ method: 'GET', path: '/v1/docs/seed' });
          await res.body.dump();
          if (res.statusCode >= 400) failures.push(res.statusCode);
          else ok++;
        } catch (error) {
          failures.push(error);
        }
      }
    };
    const workers = Array.from({ length: 8 }, (_, w) => worker(w));
    await sleep(500);
    serials.push(await rotate());
    await sleep(700);
    serials.push(await rotate());
    await sleep(700);
    const markAfterSettle = fx.server.requestSerials.length;
    await sleep(100);
    stop = true;
    await Promise.all(workers);

    expect(failures).toEqual([]);
    expect(ok).toBeGreaterThan(100);
    expect(new Set(serials).size).toBe(3);
    // Every generation was presented on new connections, in order.
    const connectionSerials = fx.server.connections.map((c) => c.serial);
    for (const s of serials) expect(connectionSerials).toContain(s);
    expect(connectionSerials.indexOf(serials[2]!)).toBeGreaterThan(connectionSerials.indexOf(serials[1]!));
    // Once the rotation settled, every request came over a new-certificate connection (old agents drained, no reuse).
    const late = fx.server.requestSerials.slice(markAfterSettle);
    expect(late.length).toBeGreaterThan(0);
    expect(new Set(late)).toEqual(new Set([serials[2]]));
    // All requests were authorized with tokens bound to the certificate they travelled with (the server checks cnf).
    expect(fx.server.authorizedCount).toBeGreaterThanOrEqual(ok);
  });
});
