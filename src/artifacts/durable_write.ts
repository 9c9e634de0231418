// One file written so that a crash or a power cut leaves either the old file
// or the new one under its name, never half of one: the bytes go to a
// temporary name in the same folder, are flushed to disk (fsync), and the
// temporary file is renamed into place; the folder is then synced so the
// rename itself is durable. Artifact folders (files.ts) and the decoded-image
// cache (data/cache.ts) both write through here. Node-only.
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

/** Writes every byte of `bytes` at the file's current position (writeSync may write fewer). */
export function writeAll(fd: number, bytes: Uint8Array, position?: number): void {
  for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done, bytes.length - done, position === undefined ? null : position + done);
}

/**
 * Creates `path` through a temporary file that `fill` writes; on any failure the temporary file is
 * removed and the error passed on. `syncFolderAfter: false` leaves the folder's sync to a caller
 * that writes several files there and syncs once.
 */
export function writeDurably(path: string, fill: (fd: number) => void, o: { syncFolderAfter?: boolean } = {}): void {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    const fd = openSync(tmp, 'w');
    try {
      fill(fd);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  if (o.syncFolderAfter !== false) syncFolder(dirname(path));
}

/** fsync of a folder, so renames in it are durable (not possible on every platform; harmless to skip there). */
export function syncFolder(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Windows cannot open a folder for fsync.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
