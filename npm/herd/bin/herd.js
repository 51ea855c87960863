#!/usr/bin/env node
// The herd command for npm users: runs the herd binary of this platform,
// which npm installed as one of @herdhq/herd's optional dependencies
// (@herdhq/herd-OS-CPU, skipped on every other platform, as esbuild does:
// nothing is downloaded at install time). herd gets the arguments, the
// standard streams and every signal sent here; its exit status is this
// process's.
'use strict';
const { spawn } = require('child_process');
const path = require('path');

const pkg = `@herdhq/herd-${process.platform}-${process.arch}`;

// binaryPath is the herd binary of this platform, or HERD_BINARY.
function binaryPath() {
  if (process.env.HERD_BINARY) return process.env.HERD_BINARY;
  try {
    return path.join(path.dirname(require.resolve(`${pkg}/package.json`)), 'bin', 'herd');
  } catch (e) {
    console.error(`herd: no herd binary for ${process.platform}/${process.arch}: the package ${pkg} is not installed.\n` +
      `herd is built for linux, darwin and freebsd on x64 and arm64. If this is one of them, reinstall ` +
      `without --no-optional (or --omit=optional), or set HERD_BINARY to a herd binary.`);
    process.exit(1);
  }
}

const child = spawn(binaryPath(), process.argv.slice(2), { stdio: 'inherit' });
// Signals go to herd, which decides (TERM/INT: a graceful stop; HUP: a
// reload). Under a terminal, INT, QUIT and HUP (Ctrl-C, Ctrl-\, hang-up)
// reach herd from the terminal itself: passing them on would make two, and
// a second INT kills the workers.
const terminal = require('tty').isatty(0);
const signals = ['SIGINT', 'SIGQUIT', 'SIGHUP', 'SIGTERM', 'SIGUSR1', 'SIGUSR2', 'SIGTTIN', 'SIGTTOU'];
for (const sig of signals) {
  const fromTerminal = terminal && ['SIGINT', 'SIGQUIT', 'SIGHUP'].includes(sig);
  process.on(sig, () => { if (!fromTerminal) child.kill(sig); });
}
child.on('error', (err) => {
  console.error(`herd: cannot run ${err.path}: ${err.message}`);
  process.exit(1);
});
child.on('exit', (code, signal) => {
  if (signal) {
    for (const sig of signals) process.removeAllListeners(sig);
    process.kill(process.pid, signal); // die as herd died
    return;
  }
  process.exit(code);
});
