// Writing artifact folders on Node: every file goes to a temporary name in
// the same folder, is flushed to disk (fsync), and is renamed into place, and
// the folder itself is synced so the rename survives a power cut. A crash
// therefore leaves either the old file or the new one under the real name,
// never half of one. The rest of artifacts/ is free of Node built-ins so that
// a page can build and read artifacts too.
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { ArtifactError } from '../errors.ts';
import { buildArtifacts } from './build.ts';
import { FILES, type ArtifactSpec } from './contract.ts';
import { beginFolder } from './folders.ts';
import { readImportedModel } from './model_file.ts';

/** Writes `files` into `dir` atomically per file (temporary name, then rename). */
export function writeFiles(dir: string, files: Record<string, Uint8Array>): string[] {
  mkdirSync(dir, { recursive: true });
  const written = Object.entries(files).map(([name, bytes]) => {
    const path = join(dir, name);
    const tmp = `${path}.tmp`;
    try {
      const fd = openSync(tmp, 'w');
      try {
        for (let at = 0; at < bytes.length; ) at += writeSync(fd, bytes, at, bytes.length - at);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, path);
    } catch (e) {
      if (existsSync(tmp)) rmSync(tmp);
      throw new ArtifactError(`cannot write ${path}: ${(e as Error).message}`);
    }
    return path;
  });
  syncFolder(dir);
  return written;
}

/** fsync of the folder, so the renames in it are durable (not possible on every platform; harmless to skip there). */
function syncFolder(dir: string): void {
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

/** The TypeScript API of `lossgraph build`: writes the artifact folder and returns the file paths. */
export function build(spec: ArtifactSpec & { out: string }): Record<keyof typeof FILES, string> {
  const { out, ...rest } = spec;
  const built = buildArtifacts(rest, readImportedModel(rest.model));
  // A build over an earlier one replaces the folder whole: never new graphs beside an old manifest.
  const folder = beginFolder(out);
  try {
    writeFiles(folder.tmp, built.files);
    folder.commit();
  } catch (e) {
    folder.abort();
    throw e;
  }
  return Object.fromEntries(Object.entries(FILES).map(([k, f]) => [k, join(out, f)])) as Record<keyof typeof FILES, string>;
}
