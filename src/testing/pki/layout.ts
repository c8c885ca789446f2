import { mkdir, readdir, readlink, rename, rm, symlink, lstat, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** Which file names a certificate directory uses. */
export type PkiLayout = 'cert-manager' | 'spiffe-helper';

/** The three file names of a layout. */
export interface LayoutFileNames {
  readonly certificate: string;
  readonly key: string;
  readonly bundle: string;
}

/** File names per layout: cert-manager Secrets and spiffe-helper output. */
export const LAYOUT_FILES: Readonly<Record<PkiLayout, LayoutFileNames>> = Object.freeze({
  'cert-manager': Object.freeze({ certificate: 'tls.crt', key: 'tls.key', bundle: 'ca.crt' }),
  'spiffe-helper': Object.freeze({ certificate: 'svid.pem', key: 'svid_key.pem', bundle: 'bundle.pem' }),
});

/** PEM contents of one certificate set. */
export interface CertificateFiles {
  /** Leaf followed by intermediates. */
  readonly certificatePem: string;
  readonly privateKeyPem: string;
  readonly bundlePem: string;
}

function timestampDirName(): string {
  // kubelet names its payload dirs `..YYYY_MM_DD_HH_MM_SS.<nanos>`; random digits keep them unique within a ms.
  const d = new Date();
  const pad = (n: number, w = 2): string => String(n).padStart(w, '0');
  const suffix = String(randomBytes(4).readUInt32BE(0)).padStart(10, '0');
  return `..${d.getUTCFullYear()}_${pad(d.getUTCMonth() + 1)}_${pad(d.getUTCDate())}_${pad(d.getUTCHours())}_${pad(d.getUTCMinutes())}_${pad(d.getUTCSeconds())}.${pad(d.getUTCMilliseconds(), 3)}${suffix}`;
}

async function isSymlink(path: string): Promise<boolean> {
  try {
    return (await lstat(path)).isSymbolicLink();
  } catch {
    return false;
  }
}

/**
 * Writes a set the way the kubelet updates a projected Secret: the files go to
 * a new `..<timestamp>` directory, a temporary `..data_tmp` symlink to it is
 * renamed over `..data` (atomic), the visible names are `name -> ..data/name`
 * symlinks, and the previous payload directory is removed.
 */
export async function writeAtomicSet(dir: string, files: CertificateFiles, layout: PkiLayout): Promise<void> {
  const names = LAYOUT_FILES[layout];
  await mkdir(dir, { recursive: true });
  const dataLink = join(dir, '..data');
  const previous = (await isSymlink(dataLink)) ? await readlink(dataLink) : undefined;
  const payload = timestampDirName();
  await mkdir(join(dir, payload), { mode: 0o755 });
  await writeFile(join(dir, payload, names.certificate), files.certificatePem, { mode: 0o644 });
  await writeFile(join(dir, payload, names.key), files.privateKeyPem, { mode: 0o600 });
  await writeFile(join(dir, payload, names.bundle), files.bundlePem, { mode: 0o644 });
  const tmp = join(dir, '..data_tmp');
  await rm(tmp, { force: true });
  await symlink(payload, tmp);
  await rename(tmp, dataLink);
  for (const name of [names.certificate, names.key, names.bundle]) {
    const visible = join(dir, name);
    if (await isSymlink(visible)) continue;
    await rm(visible, { force: true });
    await symlink(join('..data', name), visible);
  }
  if (previous !== undefined && previous !== payload) await rm(join(dir, previous), { recursive: true, force: true });
}

/** Options for {@link writeFilesOneByOne}. */
export interface OneByOneOptions {
  /** Pause between files, ms. Default 50. */
  readonly pauseMs?: number;
  /** Order of writes. Default certificate, key, bundle. */
  readonly order?: readonly ('certificate' | 'key' | 'bundle')[];
  /** Aborts between files. */
  readonly signal?: AbortSignal;
}

/**
 * Writes a set the way spiffe-helper does: plain files, one after another,
 * each truncated and rewritten in place, with a pause between them, so a
 * reader can observe a torn set (new certificate, old key). Existing
 * symlinks with those names are replaced by regular files.
 */
export async function writeFilesOneByOne(dir: string, files: CertificateFiles, layout: PkiLayout, options: OneByOneOptions = {}): Promise<void> {
  const names = LAYOUT_FILES[layout];
  const order = options.order ?? ['certificate', 'key', 'bundle'];
  const content = { certificate: files.certificatePem, key: files.privateKeyPem, bundle: files.bundlePem };
  await mkdir(dir, { recursive: true });
  let first = true;
  for (const which of order) {
    if (!first) await sleep(options.pauseMs ?? 50, undefined, options.signal === undefined ? undefined : { signal: options.signal });
    first = false;
    const path = join(dir, names[which]);
    if (await isSymlink(path)) await rm(path);
    await writeFile(path, content[which], { mode: which === 'key' ? 0o600 : 0o644 });
  }
}

/** Lists the kubelet payload directories (`..<timestamp>`) in `dir`; used by tests to check cleanup. */
export async function listPayloadDirs(dir: string): Promise<string[]> {
  const entries = await readdir(dir);
  return entries.filter((e) => e.startsWith('..') && e !== '..data' && e !== '..data_tmp');
}
