import type { Readable } from 'node:stream';
import { errorCodes } from 'fastify';

/** A body declared at most this long gets its one Buffer with its first chunk. */
const UP_FRONT_BYTES = 64 * 1024;
/** A longer one keeps its chunks until this much has come (or all of it), then gets its one Buffer. */
const SENT_FIRST_BYTES = 1024 * 1024;

/**
 * Reads a request body into one Buffer, as Fastify's `parseAs: 'buffer'` does (the same limit and the
 * same errors), but without holding on to the socket's chunks: with a Content-Length (kube-apiserver
 * always sends one) one Buffer of that length takes each chunk as it arrives. Fastify keeps every
 * chunk until the end and then copies them all; for a body of megabytes, those chunks outlive a few
 * young-generation GCs, are promoted with their memory, and bring the main thread's old-generation
 * GC forward (issue 7: Mark-Compacts while /mutate waits).
 * A declared length over 64 KiB is allocated only once 1 MiB of it has come (or all of it), so a
 * client pays for what it sends, at most 6 times over, not for what it declares: allocated up front,
 * 500 connections declaring 6 MiB and sending one byte each made V8 count 3 GB of external memory and
 * run 26-29 major GCs while they connected, 5-8 when they declared 100 bytes (bench:declared-lengths).
 * Without a Content-Length (chunked) the chunks are kept and joined, as Fastify does.
 */
export function readBodyBytes(payload: Readable, contentLength: string | undefined, limit: number, done: (err: Error | null, body?: Buffer) => void) {
  const declared = contentLength === undefined ? undefined : Number(contentLength);
  if (declared !== undefined && declared > limit) return done(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE());
  const known = declared !== undefined && Number.isSafeInteger(declared) && declared >= 0;
  const length = known ? declared : 0;
  const allocateAt = !known ? Infinity : length <= UP_FRONT_BYTES ? 0 : Math.min(length, SENT_FIRST_BYTES);
  const chunks: Buffer[] = [];
  let received = 0;
  // Unpooled, so that the bytes can be moved to a validation worker rather than copied.
  let body: Buffer | undefined;

  const stop = () => {
    payload.removeListener('data', onData);
    payload.removeListener('end', onEnd);
    payload.removeListener('error', onEnd);
  };
  function onData(chunk: Buffer | string) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (received + bytes.length > limit) {
      stop();
      return done(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE());
    }
    // More than declared: Node's HTTP parser never delivers it, a custom stream might.
    if (known && received + bytes.length > declared) {
      stop();
      return done(new errorCodes.FST_ERR_CTP_INVALID_CONTENT_LENGTH());
    }
    if (body) bytes.copy(body, received);
    else chunks.push(bytes);
    received += bytes.length;
    if (!body && received >= allocateAt) {
      body = Buffer.allocUnsafeSlow(length);
      let at = 0;
      for (const c of chunks.splice(0)) at += c.copy(body, at);
    }
  }
  function onEnd(err?: Error & { statusCode?: number }) {
    stop();
    if (err) {
      if (!(typeof err.statusCode === 'number' && err.statusCode >= 400)) err.statusCode = 400;
      return done(err);
    }
    if (declared !== undefined && received !== declared) return done(new errorCodes.FST_ERR_CTP_INVALID_CONTENT_LENGTH());
    if (received === 0) return done(new errorCodes.FST_ERR_CTP_EMPTY_JSON_BODY());
    done(null, body ?? Buffer.concat(chunks, received));
  }
  payload.on('data', onData);
  payload.on('end', onEnd);
  payload.on('error', onEnd);
  payload.resume();
}
