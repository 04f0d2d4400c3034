import { expect } from 'chai';
import tar from 'tar-stream';
import {
  BLOCK,
  headerBytes,
  padded,
  writeHeader,
  type TarHeader,
} from '../../../shared/bundle/tar-header.js';
import { FIXED_MTIME } from '../../../shared/bundle/write-tar.js';

/** The tar tar-stream 3 writes for `entries` (the encoder bundles used before, byte for byte). */
async function tarStream(entries: [TarHeader, Buffer?][]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => chunks.push(c as Buffer));
  const ended = new Promise<void>((resolve) => pack.on('end', () => resolve()));
  for (const [h, content] of entries) {
    const header = { ...h, mtime: FIXED_MTIME, uid: 0, gid: 0, uname: '', gname: '' };
    await new Promise<void>((resolve, reject) =>
      pack.entry(header, content ?? Buffer.alloc(0), (err) => (err ? reject(err) : resolve())),
    );
  }
  pack.finalize();
  await ended;
  return Buffer.concat(chunks);
}

/** The same entries through writeHeader. */
function encoded(entries: [TarHeader, Buffer?][]): Buffer {
  const parts: Buffer[] = [];
  for (const [h, content] of entries) {
    const head = Buffer.alloc(headerBytes(h));
    expect(writeHeader(head, 0, h)).to.equal(head.length);
    parts.push(head);
    if (content) {
      parts.push(content, Buffer.alloc(padded(content.length) - content.length));
    }
  }
  parts.push(Buffer.alloc(2 * BLOCK));
  return Buffer.concat(parts);
}

const file = (name: string, content: Buffer, mode = 0o644): [TarHeader, Buffer] => [
  { name, type: 'file', mode, size: content.length },
  content,
];

describe('tar headers', () => {
  const deep = `${'a'.repeat(60)}/${'b'.repeat(60)}/${'c'.repeat(50)}`;
  const cases: Record<string, [TarHeader, Buffer?][]> = {
    'plain files, an empty one, a block-sized one, an executable': [
      file('scenario/server.js', Buffer.from('console.log(1)\n')),
      file('scenario/empty', Buffer.alloc(0)),
      file('scenario/block', Buffer.alloc(512, 7)),
      file('manage.sh', Buffer.from('#!/bin/sh\n'), 0o755),
    ],
    'directories and symlinks': [
      [{ name: 'scenario/', type: 'directory', mode: 0o755 }],
      [{ name: 'scenario/link', type: 'symlink', mode: 0o777, linkname: '../x/y' }],
      [{ name: 'store/k', type: 'link', mode: 0o644, linkname: 'releases/a/b' }],
    ],
    'a long name split into ustar prefix and name': [file(`scenario/${deep}`, Buffer.from('x'))],
    'PAX for a component over 100 bytes, a long directory, unicode, a long link': [
      file(`scenario/${'y'.repeat(150)}`, Buffer.from('pax')),
      [{ name: `scenario/${'x'.repeat(120)}/`, type: 'directory', mode: 0o755 }],
      file('scenario/héllo wörld ✓.txt', Buffer.from('unicode')),
      [{ name: 'scenario/ünï/ulink', type: 'symlink', mode: 0o777, linkname: 'short' }],
      [{ name: 'scenario/l', type: 'symlink', mode: 0o777, linkname: 'z'.repeat(101) }],
      file(`scenario/${'p'.repeat(200)}/${'q'.repeat(99)}`, Buffer.from('prefix too long')),
    ],
  };
  for (const [title, entries] of Object.entries(cases)) {
    it(`encodes ${title} exactly as tar-stream did`, async () => {
      expect(encoded(entries).equals(await tarStream(entries))).to.equal(true);
    });
  }

  it('uses base-256 for a size of 8 GiB or more, as GNU tar reads it', () => {
    const head = Buffer.alloc(BLOCK);
    writeHeader(head, 0, { name: 'big', type: 'file', mode: 0o644, size: 8 * 1024 ** 3 });
    expect([...head.subarray(124, 136)]).to.deep.equal([0x80, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0]);
  });
});
