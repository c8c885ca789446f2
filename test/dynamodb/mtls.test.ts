import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { spkiPin } from '../../src/certificates/index.js';
import type { CertificateEvent } from '../../src/certificates/types.js';
import { createDynamoDbClient, type SecureDynamoDbOptions } from '../../src/drivers/dynamodb/index.js';
import { isSecureNosqlError } from '../../src/errors/index.js';
import { REGION, ROLE_ARN, startDynamoHarness, type DynamoHarness } from '../fixtures/dynamo/harness.js';

const GATEWAY_ID = 'spiffe://example.test/ns/data/sa/dynamodb-gateway';
const key = { pk: { S: 'm-1' }, sk: { S: '1' } };

describe('DynamoDB over mutual TLS with the workload certificate', () => {
  let h: DynamoHarness;
  let base: SecureDynamoDbOptions;

  beforeAll(async () => {
    h = await startDynamoHarness({ tls: true, gatewaySpiffeId: GATEWAY_ID });
    // STS and DynamoDB are both reached over https with the workload certificate and bundle (no allowInsecureLoopback).
    base = { region: REGION, roleArn: ROLE_ARN, stsEndpoint: h.issuer.stsUrl, endpoint: h.gateway.url, serverVerification: { serverId: GATEWAY_ID } };
  });
  afterAll(async () => {
    await h.close();
  });

  it('rotates the client certificate under load with zero failed commands and no new client', async () => {
    const client = await createDynamoDbClient(h.ctx, base);
    try {
      await client.send(new PutItemCommand({ TableName: 'orders', Item: key }));
      const oldSerial = h.certificates.current().serialNumber.toUpperCase();
      expect(h.gateway.clientCertificateSerials).toContain(oldSerial);
      let stop = false;
      let ok = 0;
      const failures: unknown[] = [];
      const worker = async (): Promise<void> => {
        while (!stop) {
          try {
            await client.send(new GetItemCommand({ TableName: 'orders', Key: key }));
            ok++;
          } catch (error) {
            failures.push(error);
          }
        }
      };
      const workers = Array.from({ length: 6 }, () => worker());
      while (ok < 15) await new Promise((r) => setTimeout(r, 5));
      const event = new Promise<CertificateEvent>((resolve) => {
        const sub = h.certificates.on((e) => {
          if (e.type === 'rotated') {
            sub.dispose();
            resolve(e);
          }
        });
      });
      const issued = await h.pki.rotate();
      const e = await event;
      const okAtRotation = ok;
      while (ok < okAtRotation + 15) await new Promise((r) => setTimeout(r, 5));
      stop = true;
      await Promise.all(workers);
      expect(failures).toEqual([]);
      expect(e.current.serialNumber.toUpperCase()).toBe(issued.serialNumber.toUpperCase());
      // New connections after the rotation presented the new certificate; the old one was used before it.
      expect(h.gateway.clientCertificateSerials).toContain(issued.serialNumber.toUpperCase());
      expect(h.gateway.clientCertificateSerials.at(-1)).toBe(issued.serialNumber.toUpperCase());
    } finally {
      client.destroy();
    }
  });

  it('verifies the gateway by SPIFFE ID and by SPKI pin', async () => {
    const pinned = await createDynamoDbClient(h.ctx, { ...base, serverVerification: { serverId: GATEWAY_ID, pins: [spkiPin(h.gatewayCertificate!.leafPem)] } });
    try {
      expect((await pinned.send(new GetItemCommand({ TableName: 'orders', Key: key }))).Item?.pk?.S).toBe('m-1');
    } finally {
      pinned.destroy();
    }
    for (const [verification, code] of [
      [{ serverId: 'spiffe://example.test/ns/data/sa/impostor' }, 'CERT_IDENTITY_MISMATCH'],
      [{ serverId: GATEWAY_ID, pins: [Buffer.alloc(32, 7).toString('base64')] }, 'TLS_PIN_MISMATCH'],
    ] as const) {
      const client = await createDynamoDbClient(h.ctx, { ...base, serverVerification: verification });
      const before = h.gateway.requestCount();
      try {
        const error = await client.send(new GetItemCommand({ TableName: 'orders', Key: key })).then(
          () => undefined,
          (err: unknown) => err,
        );
        expect(isSecureNosqlError(error) ? error.code : error).toBe(code);
        expect(h.gateway.requestCount()).toBe(before);
      } finally {
        client.destroy();
      }
    }
  });

  it('refuses plain http endpoints and unsafe client settings', async () => {
    await expect(createDynamoDbClient(h.ctx, { ...base, endpoint: 'http://127.0.0.1:1' })).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    await expect(createDynamoDbClient(h.ctx, { ...base, endpoint: 'http://db.example:80', allowInsecureLoopback: true })).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    await expect(
      createDynamoDbClient(h.ctx, { ...base, clientConfig: { maxAttempts: 5 } as unknown as NonNullable<SecureDynamoDbOptions['clientConfig']> }),
    ).rejects.toMatchObject({ code: 'CONFIG_INVALID', details: { field: 'dynamodb.clientConfig.maxAttempts' } });
    await expect(createDynamoDbClient(h.ctx, { ...base, roleArn: 'orders-rw' })).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    await expect(createDynamoDbClient(h.ctx, { ...base, serverVerification: { pins: ['nope'] } })).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
  });
});
