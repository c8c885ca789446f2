#!/usr/bin/env node
// The `secure-nosql` bin. Everything testable lives in run.ts; this file only
// binds it to the process (argv, streams, env, Ctrl-C, exit status).
import { runCli } from './run.js';

const controller = new AbortController();
process.once('SIGINT', () => {
  controller.abort(new Error('interrupted'));
});

runCli(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  env: process.env,
  signal: controller.signal,
}).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    // Only an unexpected (programming) error gets here; print its name and message, never an object dump.
    const message = error instanceof Error ? `${error.name}: ${error.message}` : 'unknown error';
    process.stderr.write(`secure-nosql: internal error: ${message}\n`);
    process.exitCode = 70;
  },
);
