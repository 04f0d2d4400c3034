/** A Server-Sent Events reader over fetch's body stream (Node has no EventSource). */

export interface SseMessage {
  event: string;
  id?: string;
  data: string;
}

/** Parses one event block (the lines between blank lines); comments give null. */
export function parseBlock(block: string): SseMessage | null {
  const msg: SseMessage = { event: 'message', data: '' };
  let hasData = false;
  for (const line of block.split('\n')) {
    if (line === '' || line.startsWith(':')) {
      continue;
    }
    const at = line.indexOf(':');
    const field = at < 0 ? line : line.slice(0, at);
    const value = at < 0 ? '' : line.slice(at + 1).replace(/^ /, '');
    if (field === 'event') {
      msg.event = value;
    } else if (field === 'id') {
      msg.id = value;
    } else if (field === 'data') {
      msg.data = hasData ? `${msg.data}\n${value}` : value;
      hasData = true;
    }
  }
  return hasData ? msg : null;
}

/**
 * Reads `body` until it ends, calling `onMessage` per event. `onActivity` runs on every chunk,
 * keepalive comments included (the caller's idle timer). Resolves when the server closes the
 * stream; rejects when the connection breaks or is aborted.
 */
export async function readSse(
  body: ReadableStream<Uint8Array>,
  onMessage: (m: SseMessage) => boolean | void,
  onActivity: () => void = () => undefined,
): Promise<void> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) {
      return;
    }
    onActivity();
    // on the whole buffer: a CRLF split across two chunks still joins
    buf = (buf + decoder.decode(value, { stream: true })).replace(/\r\n/g, '\n');
    for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
      const msg = parseBlock(buf.slice(0, i));
      buf = buf.slice(i + 2);
      // true from the handler: the caller has what it came for (the `end` event)
      if (msg && onMessage(msg) === true) {
        await reader.cancel().catch(() => undefined);
        return;
      }
    }
  }
}
