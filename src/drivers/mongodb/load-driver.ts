import { SecureNosqlError } from '../../errors/index.js';

/** The part of the `mongodb` package the adapter uses. */
export type MongoDriverModule = typeof import('mongodb');

/** Loads a module by name; tests swap it to simulate a missing package. @internal */
export type ModuleImporter = (specifier: string) => Promise<unknown>;

const defaultImporter: ModuleImporter = (specifier) => import(specifier);

function isModuleNotFound(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND';
}

/**
 * Loads the optional `mongodb` peer dependency on first use, so importing
 * secure-nosql never requires it. A missing package is a DEPENDENCY_MISSING
 * error that names the install command.
 * @internal
 */
export async function loadMongoDriver(importer: ModuleImporter = defaultImporter): Promise<MongoDriverModule> {
  let loaded: unknown;
  try {
    loaded = await importer('mongodb');
  } catch (error) {
    if (isModuleNotFound(error)) {
      throw new SecureNosqlError('DEPENDENCY_MISSING', 'secure-nosql mongodb: the optional peer dependency "mongodb" is not installed. Run `npm install mongodb` (version 7 or later).', {
        remediation: 'Install the MongoDB driver next to secure-nosql: `npm install mongodb`.',
        cause: error,
        details: { package: 'mongodb' },
      });
    }
    throw new SecureNosqlError('DEPENDENCY_MISSING', 'secure-nosql mongodb: the "mongodb" package could not be loaded. Reinstall it with `npm install mongodb` (version 7 or later).', {
      cause: error,
      details: { package: 'mongodb' },
    });
  }
  const mod = loaded as Partial<MongoDriverModule>;
  if (typeof mod.MongoClient !== 'function') {
    throw new SecureNosqlError('DEPENDENCY_MISSING', 'secure-nosql mongodb: the installed "mongodb" package does not export MongoClient. Install a supported version with `npm install mongodb@7`.', {
      details: { package: 'mongodb' },
    });
  }
  return mod;
}
