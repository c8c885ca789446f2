// dynalite ships no types; the test gateway only needs the server factory.
declare module 'dynalite' {
  import type { Server } from 'node:http';
  interface DynaliteOptions {
    path?: string;
    createTableMs?: number;
    deleteTableMs?: number;
    updateTableMs?: number;
    ssl?: boolean;
    [key: string]: unknown;
  }
  function dynalite(options?: DynaliteOptions): Server;
  export default dynalite;
}
