// Owns what the files source leaves out: the operator's `exclude` globs and the
// paths that must never be archived (the repository, the run's scratch dir:
// a backup that contains itself grows without bound).
//
// Semantics of `exclude` (picomatch, `dot: true`, so dotfiles match):
//   - a pattern without `/` matches the NAME of an entry at any depth:
//     `*.log`, `.env`, `node_modules`, `cache`;
//   - a pattern with `/` matches the ABSOLUTE path and must therefore start
//     with `/` or `**/`: `/var/www/app/storage/logs/**`, `**/cache/**`.
//     Anything else (`storage/logs`) could never match and is rejected as a
//     config error instead of silently backing up what the operator meant to
//     leave out;
//   - a matched directory is left out with everything below it (the walk does
//     not descend). picomatch's `x/**` also matches `x` itself, so
//     `**/cache/**` drops the cache directories too; `**/cache/*` keeps each
//     (then empty) cache directory, which apps such as Laravel expect to exist.
//   - the configured paths themselves are never excluded: listing a path is
//     the stronger statement.
// Matching is done on whole strings with the regex `s` flag added, because
// picomatch's `**` is built from `.` and would otherwise not cross a newline
// inside a file name (`/a/**` did not match `/a/x\ny`).

import picomatch from 'picomatch';
import { ConfigError } from '../core/errors.ts';

export interface ExcludeRules {
  /** The operator's pattern that leaves `absolutePath` out, if any. */
  matchingPattern(absolutePath: string): string | undefined;
  /**
   * True for the repository and the scratch dir: by path, and, once the entry
   * is lstat'ed, by identity (dev:ino), which also catches them when reached
   * through a symlinked parent or a bind mount under another name.
   */
  isProtected(absolutePath: string, stats?: { dev: number; ino: number }): boolean;
}

interface CompiledPattern {
  pattern: string;
  appliesToName: boolean;
  regex: RegExp;
}

/** Throws a ConfigError naming `sources.<name>.exclude[i]` for a pattern that can never match. */
export function compileExcludePatterns(patterns: readonly string[], sourceName: string): CompiledPattern[] {
  return patterns.map((pattern, index) => {
    const appliesToName = !pattern.includes('/');
    if (!appliesToName && !pattern.startsWith('/') && !pattern.startsWith('**/')) {
      throw new ConfigError(
        `sources.${sourceName}.exclude[${index}]: "${pattern}" contains "/" but does not start with "/" or "**/", so it can never match the absolute paths it is compared with`,
        {
          where: { source: sourceName },
          remedy: `write it as an absolute glob ("/var/www/app/${pattern.replace(/^\.?\/*/, '')}") or for any depth ("**/${pattern.replace(/^\.?\/*/, '')}")`,
        },
      );
    }
    const base = picomatch.makeRe(pattern, { dot: true });
    return { pattern, appliesToName, regex: new RegExp(base.source, `${base.flags.replace('s', '')}s`) };
  });
}

export interface ProtectedDirectory {
  path: string;
  /** dev:ino when the directory exists. */
  identity?: string;
}

export function buildExcludeRules(compiled: readonly CompiledPattern[], protectedDirectories: readonly ProtectedDirectory[]): ExcludeRules {
  const protectedPaths = new Set(protectedDirectories.map((directory) => directory.path));
  const protectedIdentities = new Set(protectedDirectories.flatMap((directory) => (directory.identity ? [directory.identity] : [])));
  return {
    matchingPattern(absolutePath) {
      const name = absolutePath.slice(absolutePath.lastIndexOf('/') + 1);
      for (const { pattern, appliesToName, regex } of compiled) {
        if (regex.test(appliesToName ? name : absolutePath)) return pattern;
      }
      return undefined;
    },
    isProtected(absolutePath, stats) {
      if (protectedPaths.has(absolutePath)) return true;
      return stats !== undefined && protectedIdentities.has(`${stats.dev}:${stats.ino}`);
    },
  };
}
