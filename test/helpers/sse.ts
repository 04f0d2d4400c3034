/** A small SSE client for tests: fetch + ReadableStream, parsed into events and comments. */

export interface SseEvent {
  id?: string;
  event: string;
  data: unknown;
}

export interface SseReader {
  status: number;
  events: SseEvent[];
  comments: string[];
  /** Waits until `pred` holds for a received event (or the stream ends: then it throws). */
  until(pred: (e: SseEvent) => boolean, timeoutMs?: number): Promise<SseEvent>;
  /** Resolves once the server ended the stream. */
  ended: Promise<void>;
  abort(): void;
}

/** Opens `url` as an event stream with the given headers. */
export async function openSse(
  url: string,
  headers: Record<string, string> = {},
): Promise<SseReader> {
  const ctl = new AbortController();
  const res = await fetch(url, {
    headers: { accept: 'text/event-stream', ...headers },
    signal: ctl.signal,
  });
  const events: SseEvent[] = [];
  const comments: string[] = [];
  const waiters = new Set<() => void>();
  let finished = false;
  const notify = (): void => waiters.forEach((w) => w());
  const parse = (block: string): void => {
    const e: SseEvent = { event: 'message', data: undefined };
    let data: string | undefined;
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) {
        comments.push(line.slice(1).trim());
        continue;
      }
      const at = line.indexOf(':');
      const field = at < 0 ? line : line.slice(0, at);
      const value = at < 0 ? '' : line.slice(at + 1).replace(/^ /, '');
      if (field === 'id') {
        e.id = value;
      } else if (field === 'event') {
        e.event = value;
      } else if (field === 'data') {
        data = data === undefined ? value : `${data}\n${value}`;
      }
    }
    if (data !== undefined) {
      e.data = JSON.parse(data);
      events.push(e);
    }
  };
  const ended = (async () => {
    if (!res.body) {
      return;
    }
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let buf = '';
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) {
          break;
        }
        buf += decoder.decode(value, { stream: true });
        for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
          parse(buf.slice(0, i));
          buf = buf.slice(i + 2);
        }
        notify();
      }
    } catch {
      // aborted by the test
    } finally {
      finished = true;
      notify();
    }
  })();
  return {
    status: res.status,
    events,
    comments,
    ended,
    abort: () => ctl.abort(),
    until(pred, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const hit = events.find(pred);
          if (hit || finished) {
            waiters.delete(check);
            clearTimeout(timer);
            if (hit) {
              resolve(hit);
            } else {
              reject(
                new Error(
                  `stream ended without the event; got ${events.map((e) => e.event).join(',')}`,
                ),
              );
            }
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error('timed out waiting for an event'));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
  };
}
