/** Server-Sent Events framing (https://html.spec.whatwg.org/multipage/server-sent-events.html). */
import type { Response } from 'express';

/** Sends the stream's headers; the response stays open. */
export function openSse(res: Response, retryMs: number): void {
  res.status(200).set({
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    connection: 'keep-alive',
    // reverse proxies (nginx) would otherwise buffer the stream
    'x-accel-buffering': 'no',
  });
  res.flushHeaders();
  res.write(`retry: ${retryMs}\n\n`);
}

/** One event's text: `data` as one line of JSON (JSON escapes every newline). */
export function frame(event: string, data: unknown, id?: string): string {
  return `${id === undefined ? '' : `id: ${id}\n`}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** Writes, waiting for the socket to drain when its buffer is full (or for the client to go). */
export async function writeOut(res: Response, text: string): Promise<void> {
  if (res.write(text)) {
    return;
  }
  await new Promise<void>((resolve) => {
    const done = (): void => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}
