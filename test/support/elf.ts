// The machine an ELF executable is built for, read from its header (e_machine at byte 18), so a test can prove
// which architecture it is really running rather than trusting a file name.
import { closeSync, openSync, readSync } from 'node:fs';

export const EM_X86_64 = 0x3e;
export const EM_AARCH64 = 0xb7;

/** e_machine of `file` (little-endian: every architecture we ship is). */
export function elfMachine(file: string): number {
  const fd = openSync(file, 'r');
  try {
    const b = Buffer.alloc(20);
    if (readSync(fd, b, 0, 20, 0) < 20 || b.readUInt32BE(0) !== 0x7f454c46) throw new Error(`${file} is not an ELF file`);
    return b.readUInt16LE(18);
  } finally {
    closeSync(fd);
  }
}
