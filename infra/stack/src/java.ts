import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { StackError } from './errors.js';

export interface JavaRuntime {
  readonly javaBin: string;
  readonly major: number;
}

function javaMajor(javaBin: string): number | undefined {
  const result = spawnSync(javaBin, ['-version'], { encoding: 'utf8' });
  if (result.error !== undefined || result.status !== 0) return undefined;
  const match = /version "(\d+)(?:\.(\d+))?/.exec(result.stderr);
  if (match?.[1] === undefined) return undefined;
  const first = Number(match[1]);
  // Java 8 and older print "1.8.0_…".
  return first === 1 && match[2] !== undefined ? Number(match[2]) : first;
}

function candidates(env: NodeJS.ProcessEnv): string[] {
  const found: string[] = [];
  const javaHome = env['JAVA_HOME'];
  if (javaHome) found.push(path.join(javaHome, 'bin', 'java'));
  found.push('java');
  for (const root of ['/usr/lib/jvm', '/usr/java', '/opt/java', '/Library/Java/JavaVirtualMachines']) {
    if (!existsSync(root)) continue;
    for (const entry of readdirSync(root).sort().reverse()) {
      for (const bin of [
        path.join(root, entry, 'bin', 'java'),
        path.join(root, entry, 'Contents', 'Home', 'bin', 'java'),
      ]) {
        if (existsSync(bin)) found.push(bin);
      }
    }
  }
  return found;
}

/**
 * Finds a Java runtime of at least `minMajor`: JAVA_HOME first, then `java` on the PATH, then the
 * usual JVM folders (the machines keep a Temurin 25 JDK beside the default Java 17).
 */
export function findJava(
  minMajor: number,
  purpose: string,
  env: NodeJS.ProcessEnv = process.env,
): JavaRuntime {
  let seen: JavaRuntime | undefined;
  for (const javaBin of candidates(env)) {
    const major = javaMajor(javaBin);
    if (major === undefined) continue;
    if (major >= minMajor) return { javaBin, major };
    seen ??= { javaBin, major };
  }
  if (seen === undefined) {
    throw new StackError(
      'STACK_JAVA_MISSING',
      `no Java found (needed for ${purpose}): install a JDK ${minMajor}+ and/or set JAVA_HOME`,
    );
  }
  throw new StackError(
    'STACK_JAVA_TOO_OLD',
    `${purpose} needs Java ${minMajor}+, found only Java ${seen.major} (${seen.javaBin}): install a JDK ${minMajor}+ and set JAVA_HOME to it`,
  );
}
