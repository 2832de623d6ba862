// A small zip writer for the .charm archive (used by scripts/pack.mjs), on node:zlib only.
//
// Each entry is deflated (or stored, when deflate does not help) and carries its Unix mode in
// the high 16 bits of the external attributes, with "version made by" = Unix, so `unzip`, Python's
// zipfile and Go's archive/zip (which Juju uses to expand a charm) all restore the exec bits. An
// extended-timestamp field (0x5455) records the time in UTC. No zip64: the archive, and every
// entry, must stay under 4 GiB and 65535 entries. No directory entries: like charmcraft's
// build_zip, only files are stored and readers create the parent directories.
import { closeSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import zlib from 'node:zlib';

const VERSION_MADE_BY = (3 << 8) | 30; // 0x031e: Unix, spec 3.0
const S_IFREG = 0o100000;
const MAX32 = 0xffffffff;

/** CRC-32 (IEEE); zlib.crc32 exists from Node 20.15, a table fallback before that. */
export const crc32 =
  typeof zlib.crc32 === 'function'
    ? (data) => zlib.crc32(data) >>> 0
    : (() => {
        const table = new Uint32Array(256);
        for (let n = 0; n < 256; n++) {
          let c = n;
          for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
          table[n] = c >>> 0;
        }
        return (data) => {
          let c = 0xffffffff;
          for (let i = 0; i < data.length; i++) c = table[(c ^ data[i]) & 0xff] ^ (c >>> 8);
          return (c ^ 0xffffffff) >>> 0;
        };
      })();

const CHUNK = 4 << 20;

/**
 * Raw deflate of `data`. Inputs above a few MiB are cut into 4 MiB chunks deflated in parallel
 * on libuv's thread pool, pigz-style: every chunk but the last ends with a sync flush (a
 * byte-aligned, non-final empty stored block), so the concatenation is one valid deflate stream.
 * The output depends only on the input and the level, so packs stay reproducible.
 */
export async function deflate(data, level = 6) {
  if (data.length <= 2 * CHUNK) return zlib.deflateRawSync(data, { level });
  const jobs = [];
  for (let off = 0; off < data.length; off += CHUNK) {
    const last = off + CHUNK >= data.length;
    const finishFlush = last ? zlib.constants.Z_FINISH : zlib.constants.Z_SYNC_FLUSH;
    jobs.push(
      new Promise((resolve, reject) =>
        zlib.deflateRaw(data.subarray(off, off + CHUNK), { level, finishFlush }, (err, out) => (err ? reject(err) : resolve(out))),
      ),
    );
  }
  return Buffer.concat(await Promise.all(jobs));
}

/**
 * Prepares one entry: `{ name, data, mode }` (mode: permission bits, e.g. 0o755) becomes
 * `{ name, mode, method, crc, size, body }`. `deflated`, if given, is the raw deflate of `data`
 * computed earlier (a cache), so it is not compressed again.
 */
export async function zipEntry({ name, data, mode, deflated, level = 6 }) {
  if (name.split('/').some((p) => p === '' || p === '.' || p === '..')) {
    throw new Error(`zip: bad entry name ${JSON.stringify(name)}`);
  }
  const crc = crc32(data);
  const packed = deflated ?? (data.length ? await deflate(data, level) : Buffer.alloc(0));
  const store = packed.length >= data.length;
  return { name, mode: mode & 0o7777, method: store ? 0 : 8, crc, size: data.length, body: store ? data : packed };
}

function dosDateTime(epochSeconds) {
  const d = new Date(epochSeconds * 1000);
  const year = Math.min(Math.max(d.getUTCFullYear(), 1980), 2107);
  const date = ((year - 1980) << 9) | ((d.getUTCMonth() + 1) << 5) | d.getUTCDate();
  const time = (d.getUTCHours() << 11) | (d.getUTCMinutes() << 5) | (d.getUTCSeconds() >> 1);
  return { date, time };
}

/** Extended timestamp (0x5455): flags bit 0 = mtime, then the mtime as Unix seconds. */
function extTime(epochSeconds) {
  const b = Buffer.alloc(9);
  b.writeUInt16LE(0x5455, 0);
  b.writeUInt16LE(5, 2);
  b.writeUInt8(1, 4);
  b.writeUInt32LE(Math.max(0, Math.min(epochSeconds, MAX32)) >>> 0, 5);
  return b;
}

/**
 * Writes `entries` (from zipEntry, in the given order) to `file`, through a temporary file
 * renamed into place, with every timestamp set to `mtime` (Unix seconds). Returns the size.
 */
export function writeZip(file, entries, { mtime }) {
  if (entries.length > 0xffff) throw new Error('zip: too many entries (no zip64)');
  const names = new Set();
  for (const e of entries) {
    if (names.has(e.name)) throw new Error(`zip: duplicate entry ${e.name}`);
    names.add(e.name);
  }
  const { date, time } = dosDateTime(mtime);
  const extra = extTime(mtime);
  const tmp = `${file}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w', 0o644);
  let offset = 0;
  const write = (buf) => {
    let done = 0;
    while (done < buf.length) done += writeSync(fd, buf, done, buf.length - done);
    offset += buf.length;
  };
  try {
    const central = [];
    for (const e of entries) {
      if (e.size > MAX32 || e.body.length > MAX32 || offset > MAX32) throw new Error('zip: entry too large (no zip64)');
      const name = Buffer.from(e.name, 'utf8');
      const flags = /^[\x20-\x7e]*$/.test(e.name) ? 0 : 0x0800; // bit 11: UTF-8 name
      const needed = e.method === 8 ? 20 : 10;
      const local = Buffer.alloc(30);
      local.writeUInt32LE(0x04034b50, 0);
      local.writeUInt16LE(needed, 4);
      local.writeUInt16LE(flags, 6);
      local.writeUInt16LE(e.method, 8);
      local.writeUInt16LE(time, 10);
      local.writeUInt16LE(date, 12);
      local.writeUInt32LE(e.crc, 14);
      local.writeUInt32LE(e.body.length, 18);
      local.writeUInt32LE(e.size, 22);
      local.writeUInt16LE(name.length, 26);
      local.writeUInt16LE(extra.length, 28);
      const localOffset = offset;
      write(local);
      write(name);
      write(extra);
      write(e.body);

      const cen = Buffer.alloc(46);
      cen.writeUInt32LE(0x02014b50, 0);
      cen.writeUInt16LE(VERSION_MADE_BY, 4);
      cen.writeUInt16LE(needed, 6);
      cen.writeUInt16LE(flags, 8);
      cen.writeUInt16LE(e.method, 10);
      cen.writeUInt16LE(time, 12);
      cen.writeUInt16LE(date, 14);
      cen.writeUInt32LE(e.crc, 16);
      cen.writeUInt32LE(e.body.length, 20);
      cen.writeUInt32LE(e.size, 24);
      cen.writeUInt16LE(name.length, 28);
      cen.writeUInt16LE(extra.length, 30);
      cen.writeUInt16LE(0, 32); // comment length
      cen.writeUInt16LE(0, 34); // disk number start
      cen.writeUInt16LE(0, 36); // internal attributes
      cen.writeUInt32LE(((S_IFREG | e.mode) << 16) >>> 0, 38);
      cen.writeUInt32LE(localOffset, 42);
      central.push(cen, name, extra);
    }
    const cdOffset = offset;
    for (const b of central) write(b);
    const cdSize = offset - cdOffset;
    if (offset > MAX32) throw new Error('zip: archive too large (no zip64)');
    const end = Buffer.alloc(22);
    end.writeUInt32LE(0x06054b50, 0);
    end.writeUInt16LE(entries.length, 8);
    end.writeUInt16LE(entries.length, 10);
    end.writeUInt32LE(cdSize, 12);
    end.writeUInt32LE(cdOffset, 16);
    write(end);
    closeSync(fd);
    renameSync(tmp, file);
  } catch (err) {
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
    rmSync(tmp, { force: true });
    throw err;
  }
  return offset;
}
