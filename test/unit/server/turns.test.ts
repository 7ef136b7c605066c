import { connect, createServer, type AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createTurns } from '../../../src/server/turns.js';

// Issue 7: a client with many /validate requests in flight must not put all of their work in front
// of a /mutate that arrived with them (src/server/turns.ts).
describe('turns: one waiting job per event-loop iteration', () => {
  it('reads a socket between two turns: bytes sent during the first are received before the second runs', async () => {
    const order: string[] = [];
    const server = createServer((socket) => socket.on('data', () => order.push('data')));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const client = connect((server.address() as AddressInfo).port, '127.0.0.1');
    await new Promise((resolve) => client.once('connect', resolve));
    // Let the server accept the connection first.
    await new Promise((resolve) => setTimeout(resolve, 50));
    const turns = createTurns();
    const jobs = [1, 2, 3].map((n) =>
      turns.next().then(() => {
        order.push(`turn ${n}`);
        // Sent while turn 1 runs; the next poll phase reads it, before turn 2's check phase.
        if (n === 1) client.write('x');
      }),
    );
    expect(turns.waiting).toBe(3);
    await Promise.all(jobs);
    client.destroy();
    await new Promise((resolve) => server.close(resolve));
    // All three in one check phase would give turn 1, 2, 3, then the data.
    expect(order).toEqual(['turn 1', 'data', 'turn 2', 'turn 3']);
    expect(turns.waiting).toBe(0);
  });

  it('serves callers first come, first served, including those that came while others were running', async () => {
    const turns = createTurns();
    const order: number[] = [];
    const late: Promise<void>[] = [];
    const early = [1, 2].map((n) =>
      turns.next().then(() => {
        order.push(n);
        if (n === 1) late.push(turns.next().then(() => void order.push(3)));
      }),
    );
    await Promise.all(early);
    await Promise.all(late);
    expect(order).toEqual([1, 2, 3]);
  });
});
