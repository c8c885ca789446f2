import { watch, type FSWatcher } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { SecureNosqlError } from '../errors/index.js';
import { createAccessToken } from './access-token.js';
import { abortedError, sleep } from './backoff.js';
import { audiencesOf, certificateThumbprintOf, readJwtClaims } from './jwt-claims.js';
import type { AccessToken, GetTokenOptions, TokenSource } from './types.js';

/** Options of {@link FileTokenSource}. */
export interface FileTokenSourceOptions {
  /** Audience → token file (projected service-account token, JWT-SVID). */
  readonly files: Readonly<Record<string, string>>;
  /** Reads of an empty, partial or expired file before giving up. Default 4. */
  readonly attempts?: number;
  /** Pause between those reads, ms. Default 75. */
  readonly retryDelayMs?: number;
  /** Longest accepted token, bytes. Default 16,384. */
  readonly maxTokenBytes?: number;
  /** Require the JWT `aud` to include the audience it is mapped to. Default true. */
  readonly checkAudience?: boolean;
  /** Watch the files' directories (fs.watch) besides the mtime check on each read. Default true. */
  readonly watch?: boolean;
}

interface Loaded {
  readonly mtimeMs: number;
  readonly size: number;
  readonly ino: number;
  readonly token: AccessToken;
}

/** Why one read of the file was not usable (retried, then reported by path only). */
class UnusableFile extends Error {
  override readonly name = 'UnusableFile';
}

/**
 * Tokens read from files that another agent keeps fresh (kubelet projected
 * tokens, spiffe-helper JWT-SVIDs). A file is re-read when its directory
 * changes or its mtime/size/inode differ; a file caught mid-rotation (empty,
 * not yet a whole JWT, or expired) is retried briefly.
 */
export class FileTokenSource implements TokenSource {
  readonly #files: ReadonlyMap<string, string>;
  readonly #options: FileTokenSourceOptions;
  readonly #loaded = new Map<string, Loaded>();
  readonly #watchers: FSWatcher[] = [];
  #closed = false;

  constructor(options: FileTokenSourceOptions) {
    this.#options = options;
    this.#files = new Map(Object.entries(options.files));
    if (options.watch ?? true) {
      for (const dir of new Set([...this.#files.values()].map((p) => dirname(p)))) {
        try {
          const watcher = watch(dir, { persistent: false }, () => {
            // Any change in the directory (a ..data swap renames, writes) forces a re-read.
            for (const path of this.#files.values()) if (dirname(path) === dir) this.#loaded.delete(path);
          });
          watcher.on('error', () => undefined);
          this.#watchers.push(watcher);
        } catch {
          // A missing directory is reported at read time; the mtime check still works.
        }
      }
    }
  }

  /** The audiences this source has files for. */
  get audiences(): readonly string[] {
    return [...this.#files.keys()];
  }

  /** Reads (or reuses) the token file mapped to `audience`. */
  async getToken(audience: string, options?: GetTokenOptions): Promise<AccessToken> {
    if (this.#closed) throw new SecureNosqlError('CLOSED', 'The token source is closed.');
    const path = this.#files.get(audience);
    if (path === undefined) {
      throw new SecureNosqlError('CONFIG_INVALID', `No token file is configured for audience "${audience}".`, {
        remediation: 'Add the audience to tokens.files or configure tokens.issuer.',
      });
    }
    const signal = options?.signal;
    const attempts = Math.max(1, this.#options.attempts ?? 4);
    let last: unknown;
    for (let n = 1; n <= attempts; n++) {
      if (signal?.aborted === true) throw abortedError(signal);
      try {
        return await this.#read(audience, path);
      } catch (error) {
        if (!(error instanceof UnusableFile) && (error as { code?: unknown }).code !== 'ENOENT') throw error;
        last = error;
      }
      if (n < attempts) await sleep(this.#options.retryDelayMs ?? 75, signal);
    }
    throw new SecureNosqlError('TOKEN_UNAVAILABLE', `The token file ${path} holds no usable token (${(last as Error).message}).`, {
      remediation: 'Check the agent that writes this file (kubelet projected volume, spiffe-helper) is running and rotating it.',
      details: { path },
      cause: last instanceof UnusableFile ? undefined : last,
    });
  }

  async #read(audience: string, path: string): Promise<AccessToken> {
    let info;
    try {
      info = await stat(path);
    } catch (error) {
      if ((error as { code?: unknown }).code === 'ENOENT') throw new UnusableFile('missing');
      throw new SecureNosqlError('TOKEN_UNAVAILABLE', `The token file ${path} cannot be read.`, { details: { path }, cause: error });
    }
    const now = Date.now();
    const cached = this.#loaded.get(path);
    if (cached !== undefined && cached.mtimeMs === info.mtimeMs && cached.size === info.size && cached.ino === info.ino && cached.token.expiresAt > now) {
      return cached.token;
    }
    const text = (await readFile(path, 'utf8')).trim();
    if (text.length === 0) throw new UnusableFile('empty');
    if (Buffer.byteLength(text) > (this.#options.maxTokenBytes ?? 16_384)) throw new UnusableFile('oversize');
    // eslint-disable-next-line no-control-regex
    if (/[\s\u0000-\u001f]/.test(text)) throw new UnusableFile('not a single token');
    const claims = readJwtClaims(text);
    if (claims === undefined) throw new UnusableFile('not a well-formed JWT');
    if (typeof claims.exp !== 'number') throw new UnusableFile('no exp claim');
    const expiresAt = claims.exp * 1000;
    if (expiresAt <= now) throw new UnusableFile('expired');
    if ((this.#options.checkAudience ?? true) && !audiencesOf(claims).includes(audience)) {
      throw new SecureNosqlError('TOKEN_INVALID', `The token in ${path} is not issued for audience "${audience}".`, {
        remediation: 'Fix the audience of the projected token / JWT-SVID or the tokens.files mapping.',
        details: { path, audience },
      });
    }
    const issuedAt = typeof claims.iat === 'number' && claims.iat * 1000 <= now ? claims.iat * 1000 : now;
    const token = createAccessToken({
      value: text,
      tokenType: 'Bearer',
      audience,
      scope: typeof claims.scope === 'string' ? claims.scope : undefined,
      issuedAt,
      expiresAt,
      certificateThumbprint: certificateThumbprintOf(claims),
      certificateGeneration: undefined,
    });
    this.#loaded.set(path, { mtimeMs: info.mtimeMs, size: info.size, ino: info.ino, token });
    return token;
  }

  /** Stops the directory watchers. */
  close(): Promise<void> {
    this.#closed = true;
    for (const watcher of this.#watchers) watcher.close();
    this.#watchers.length = 0;
    this.#loaded.clear();
    return Promise.resolve();
  }
}
