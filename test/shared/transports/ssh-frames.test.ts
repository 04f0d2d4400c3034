import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { FrameScanner, type Piece } from '../../../shared/transports/ssh-frames.js';

const NONCE = randomBytes(16).toString('hex');

/** Feeds the chunks; returns the text joined and the frames in order. */
function scan(chunks: string[], nonce = NONCE): { text: string; frames: string[] } {
  const scanner = new FrameScanner(nonce);
  const pieces: Piece[] = chunks.flatMap((c) => scanner.push(c));
  return {
    text: pieces.map((p) => ('text' in p ? p.text : '')).join(''),
    frames: pieces.flatMap((p) => ('frame' in p ? [p.frame] : [])),
  };
}

describe('FrameScanner', () => {
  it('finds a frame after output that lacks a trailing newline', () => {
    expect(scan([`partial line${NONCE}:e:0:\nafter`])).to.deep.equal({
      text: 'partial lineafter',
      frames: [':e:0:'],
    });
  });

  it('finds a frame split across chunks at any point', () => {
    const stream = `out\n${NONCE}:p:42\nmore${NONCE}:e:3:\n`;
    for (let i = 0; i <= stream.length; i++) {
      for (let j = i; j <= stream.length; j += 7) {
        const got = scan([stream.slice(0, i), stream.slice(i, j), stream.slice(j)]);
        expect(got, `cut at ${i}, ${j}`).to.deep.equal({
          text: 'out\nmore',
          frames: [':p:42', ':e:3:'],
        });
      }
    }
  });

  it('passes fake frames (another nonce, a truncated nonce, the bare format) through as text', () => {
    const other = randomBytes(16).toString('hex');
    const fakes = `${other}:e:0:\n${NONCE.slice(0, 31)}:e:0:\n:e:0:\n${NONCE.slice(1)}:p:1\n`;
    expect(scan([fakes])).to.deep.equal({ text: fakes, frames: [] });
  });

  it('holds back only what may begin a nonce, and releases it when it does not', () => {
    const scanner = new FrameScanner(NONCE);
    expect(scanner.push(`abc${NONCE.slice(0, 10)}`)).to.deep.equal([{ text: 'abc' }]);
    expect(scanner.push('zz')).to.deep.equal([{ text: `${NONCE.slice(0, 10)}zz` }]);
    expect(scanner.push('plain')).to.deep.equal([{ text: 'plain' }]);
  });

  it('treats a nonce followed by a long line as text (no unbounded buffering)', () => {
    const long = `${NONCE}${'x'.repeat(500)}`;
    const got = scan([long, 'tail\n']);
    expect(got.frames).to.deep.equal([]);
    expect(got.text).to.equal(`${long}tail\n`);
  });

  it('keeps NULs and multi-byte characters of the output', () => {
    expect(scan([`a\0b ✓ 日本${NONCE}:e:0:\n`]).text).to.equal('a\0b ✓ 日本');
  });
});
