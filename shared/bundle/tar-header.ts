/**
 * The tar headers of a bundle, encoded without a stream per entry: 512-byte ustar headers with
 * the fields bundles use, and a PAX extended header (path, linkpath) where ustar cannot hold a
 * name. Byte for byte what tar-stream 3 wrote for the same header (bundles built before this
 * encoder are identical; see BUNDLE_FORMAT_VERSION), and what GNU tar and bsdtar read.
 */

/** Tar block size: headers and padded contents are multiples of it. */
export const BLOCK = 512;
/** Every entry's mtime in seconds (2000-01-01T00:00:00Z): file times never reach the bundle. */
export const FIXED_MTIME_S = 946684800;

/** The entry types bundles hold (`link`: a hard link, in the delta files of a transfer). */
export type TarType = 'file' | 'link' | 'symlink' | 'directory';

/** One header: `name` of a directory ends with `/`; `size` only for files. */
export interface TarHeader {
  name: string;
  type: TarType;
  mode: number;
  size?: number;
  linkname?: string;
}

const TYPEFLAG: Record<TarType | 'pax', number> = {
  file: 0x30,
  link: 0x31,
  symlink: 0x32,
  directory: 0x35,
  pax: 0x78, // 'x'
};
const USTAR = Buffer.from('ustar\u000000', 'latin1');

/** Octal `val` in `digits` digits plus a space (all 7s when it does not fit), as tar-stream. */
function octal(val: number, digits: number): string {
  const s = val.toString(8);
  return s.length > digits ? `${'7'.repeat(digits)} ` : `${s.padStart(digits, '0')} `;
}

/** The ustar name/prefix split of `name`, or null when it needs a PAX header. */
function splitName(name: string): [string, string] | null {
  if (Buffer.byteLength(name) !== name.length) {
    return null; // not ASCII
  }
  let rest = name;
  let prefix = '';
  while (rest.length > 100) {
    const i = rest.indexOf('/');
    if (i === -1) {
      return null;
    }
    prefix += prefix ? `/${rest.slice(0, i)}` : rest.slice(0, i);
    rest = rest.slice(i + 1);
  }
  return prefix.length > 155 ? null : [rest, prefix];
}

/** Writes one ustar header block at `buf[off..off+512)` (which must be zeroed). */
function ustar(
  buf: Buffer,
  off: number,
  h: TarHeader,
  flag: number,
  name: string,
  prefix: string,
): void {
  buf.write(name, off, 'latin1');
  buf.write(octal(h.mode & 0o7777, 6), off + 100, 'latin1');
  buf.write(octal(0, 6), off + 108, 'latin1'); // uid
  buf.write(octal(0, 6), off + 116, 'latin1'); // gid
  writeSize(buf, off + 124, h.size ?? 0);
  buf.write(octal(FIXED_MTIME_S, 11), off + 136, 'latin1');
  buf[off + 156] = flag;
  if (h.linkname) {
    buf.write(h.linkname, off + 157, 'utf8');
  }
  USTAR.copy(buf, off + 257);
  buf.write(octal(0, 6), off + 329, 'latin1'); // devmajor
  buf.write(octal(0, 6), off + 337, 'latin1'); // devminor
  if (prefix) {
    buf.write(prefix, off + 345, 'latin1');
  }
  let sum = 8 * 32; // the checksum field counts as spaces
  for (let i = 0; i < BLOCK; i++) {
    sum += i >= 148 && i < 156 ? 0 : buf[off + i];
  }
  buf.write(octal(sum, 6), off + 148, 'latin1');
}

/** Sizes of 8 GiB and more do not fit 11 octal digits: base-256, as GNU tar reads. */
function writeSize(buf: Buffer, off: number, size: number): void {
  if (size.toString(8).length <= 11) {
    buf.write(octal(size, 11), off, 'latin1');
    return;
  }
  buf[off] = 0x80;
  for (let i = 11, n = size; i > 0; i--, n = Math.floor(n / 256)) {
    buf[off + i] = n % 256;
  }
}

/** A PAX record: its own length in decimal, then ` key=value\n`. */
function paxRecord(text: string): string {
  const len = Buffer.byteLength(text);
  let digits = String(len).length;
  if (len + digits >= 10 ** digits) {
    digits++;
  }
  return `${len + digits}${text}`;
}

/** Bytes a header takes (one block, or a PAX header, its padded records and a block). */
export function headerBytes(h: TarHeader): number {
  const pax = paxData(h);
  return pax === null ? BLOCK : 2 * BLOCK + padded(pax.length);
}

/** `n` rounded up to whole blocks. */
export function padded(n: number): number {
  return Math.ceil(n / BLOCK) * BLOCK;
}

function paxData(h: TarHeader): Buffer | null {
  const linkTooLong = h.linkname !== undefined && Buffer.byteLength(h.linkname) > 100;
  if (!linkTooLong && splitName(h.name) !== null) {
    return null;
  }
  let text = paxRecord(` path=${h.name}\n`);
  if (h.linkname) {
    text += paxRecord(` linkpath=${h.linkname}\n`);
  }
  return Buffer.from(text);
}

/**
 * Writes the header of `h` at `buf[off..)` (zeroed, headerBytes(h) long) and returns the bytes
 * written. A name ustar cannot hold goes in a PAX header; both ustar blocks are then named
 * `PaxHeader` (and link to `PaxHeader`), as tar-stream wrote them.
 */
export function writeHeader(buf: Buffer, off: number, h: TarHeader): number {
  const pax = paxData(h);
  if (pax === null) {
    const [name, prefix] = splitName(h.name) ?? ['', ''];
    ustar(buf, off, h, TYPEFLAG[h.type], name, prefix);
    return BLOCK;
  }
  const stub = (size: number): TarHeader => ({
    ...h,
    name: 'PaxHeader',
    size,
    linkname: h.linkname ? 'PaxHeader' : undefined,
  });
  ustar(buf, off, stub(pax.length), TYPEFLAG.pax, 'PaxHeader', '');
  pax.copy(buf, off + BLOCK);
  const at = off + BLOCK + padded(pax.length);
  // no trailing slash even for a directory: tar-stream's check for one never matched
  ustar(buf, at, stub(h.size ?? 0), TYPEFLAG[h.type], 'PaxHeader', '');
  return at + BLOCK - off;
}
