import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { readBodyBytes } from '../../../src/server/body-bytes.js';

type Read = { err: (Error & { code?: string; statusCode?: number }) | null; body?: Buffer };

/** Feeds `chunks` (then the end, or `fail`) through readBodyBytes; what it hands to done. */
function read(chunks: Array<string | Buffer>, contentLength: string | undefined, limit = 1024, fail?: Error): Promise<Read> {
  const payload = new PassThrough();
  const result = new Promise<Read>((resolve) => readBodyBytes(payload, contentLength, limit, (err, body) => resolve({ err, body })));
  for (const c of chunks) payload.write(c);
  if (fail) payload.destroy(fail);
  else payload.end();
  return result;
}

const review = '{"kind":"AdmissionReview"}';
const pieces = [review.slice(0, 5), review.slice(5, 17), review.slice(17)].map((s) => Buffer.from(s));

describe('readBodyBytes: a body as one Buffer, with the errors of Fastify parseAs buffer', () => {
  it('with a Content-Length: the chunks copied into one Buffer that owns its memory (a worker can take it whole)', async () => {
    const { err, body } = await read(pieces, String(review.length));
    expect(err).toBeNull();
    expect(body!.toString()).toBe(review);
    expect(body!.byteOffset).toBe(0);
    expect(body!.buffer.byteLength).toBe(review.length);
    // A copy: changing a chunk afterwards (a reused socket buffer) does not change the body.
    pieces[0].fill(0x20);
    expect(body!.toString()).toBe(review);
    pieces[0].write(review.slice(0, 5));
  });

  it('allocates a declared length over 64 KiB once 1 MiB of it has come: a client pays for what it sends, not what it declares', async () => {
    const declared = 4 * 1024 * 1024;
    const payload = new PassThrough();
    const rest = Buffer.alloc(declared - 1, 0x20);
    const before = process.memoryUsage().arrayBuffers;
    const result = new Promise<Read>((resolve) => readBodyBytes(payload, String(declared), 8 * 1024 * 1024, (err, body) => resolve({ err, body })));
    payload.write('{');
    for (let i = 0; i < 512 * 1024; i += 64 * 1024) payload.write(rest.subarray(i, i + 64 * 1024));
    await new Promise((r) => setImmediate(r));
    // 512 KiB sent (kept as the stream's chunks, slices of `rest`): nothing of the 4 MiB declared yet.
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(1024 * 1024);
    for (let i = 512 * 1024; i < rest.length; i += 64 * 1024) payload.write(rest.subarray(i, i + 64 * 1024));
    payload.end();
    const { err, body } = await result;
    expect(err).toBeNull();
    expect(body!.length).toBe(declared);
    expect(body!.byteOffset).toBe(0);
    expect(body!.buffer.byteLength).toBe(declared);
    expect(body![0]).toBe(0x7b);
    expect(body!.subarray(1).equals(rest)).toBe(true);
  });

  it('without a Content-Length (chunked): the chunks joined', async () => {
    const { err, body } = await read([...pieces, 'x'], undefined);
    expect(err).toBeNull();
    expect(body!.toString()).toBe(`${review}x`);
  });

  it.each([
    ['a Content-Length over the limit, before any byte is read', ['{}'], '1025', 'FST_ERR_CTP_BODY_TOO_LARGE', 413],
    ['more bytes than the limit, chunked', ['x'.repeat(600), 'x'.repeat(600)], undefined, 'FST_ERR_CTP_BODY_TOO_LARGE', 413],
    ['fewer bytes than the Content-Length', pieces, String(review.length + 1), 'FST_ERR_CTP_INVALID_CONTENT_LENGTH', 400],
    ['more bytes than the Content-Length', pieces, String(review.length - 1), 'FST_ERR_CTP_INVALID_CONTENT_LENGTH', 400],
    ['a Content-Length that is not a number', pieces, 'twelve', 'FST_ERR_CTP_INVALID_CONTENT_LENGTH', 400],
    ['an empty body', [], '0', 'FST_ERR_CTP_EMPTY_JSON_BODY', 400],
    ['an empty chunked body', [], undefined, 'FST_ERR_CTP_EMPTY_JSON_BODY', 400],
  ])('%s: %s', async (_name, chunks, contentLength, code, status) => {
    const { err, body } = await read(chunks, contentLength);
    expect(body).toBeUndefined();
    expect(err).toMatchObject({ code, statusCode: status });
  });

  it('a stream error (the client went away) is a 400 carrying that error', async () => {
    const { err } = await read([pieces[0]], String(review.length), 1024, new Error('aborted'));
    expect(err).toMatchObject({ message: 'aborted', statusCode: 400 });
  });
});
