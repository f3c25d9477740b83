import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { StackError } from './errors.js';
import { stackDirs, stackSourceDir, type StackSettings } from './settings.js';
import type { JavaRuntime } from './java.js';

const pomFile = path.join(stackSourceDir, 'pom.xml');
export const apicurioArtifact = 'io.apicurio:apicurio-registry-app:3.3.3:tar.gz:all';

function pomFingerprint(): string {
  return createHash('sha256')
    .update(readFileSync(pomFile))
    .update(apicurioArtifact)
    .digest('hex')
    .slice(0, 16);
}

function mvn(args: string[], java: JavaRuntime): void {
  const which = spawnSync('mvn', ['-v'], { encoding: 'utf8' });
  if (which.error !== undefined) {
    throw new StackError(
      'STACK_MAVEN_MISSING',
      'Maven (mvn) is not on the PATH: install Maven 3.8+ (the stack downloads Kafka and the registry from Maven Central with it)',
    );
  }
  // Maven itself runs on whatever Java it finds; any 11+ works.
  void java;
  const result = spawnSync('mvn', ['-q', '-B', '-f', pomFile, ...args], { encoding: 'utf8' });
  if (result.status !== 0) {
    const output = `${result.stdout}\n${result.stderr}`.trim().split('\n').slice(-15).join('\n');
    throw new StackError(
      'STACK_DOWNLOAD_FAILED',
      `mvn ${args[0]} failed (is Maven Central reachable?):\n${output}`,
    );
  }
}

export interface StackArtifacts {
  readonly kafkaClasspath: string;
  readonly registryJar: string;
}

/**
 * Resolves the Kafka jars and the Apicurio Registry app from Maven Central into the stack's home.
 * Maven caches the downloads in ~/.m2, so a second machine-local copy costs seconds.
 */
export function ensureArtifacts(
  settings: StackSettings,
  mavenJava: JavaRuntime,
  log: (line: string) => void,
): StackArtifacts {
  const dirs = stackDirs(settings);
  const marker = path.join(settings.home, 'artifacts.fingerprint');
  const fingerprint = pomFingerprint();
  const registryJar = path.join(dirs.apicurio, 'quarkus-run.jar');
  const upToDate =
    existsSync(marker) &&
    readFileSync(marker, 'utf8').trim() === fingerprint &&
    existsSync(registryJar) &&
    existsSync(dirs.kafkaLib);
  if (!upToDate) {
    log('resolving Kafka and Apicurio Registry from Maven Central (cached in ~/.m2)…');
    rmSync(dirs.kafkaLib, { recursive: true, force: true });
    rmSync(dirs.apicurio, { recursive: true, force: true });
    mkdirSync(dirs.kafkaLib, { recursive: true });
    mkdirSync(dirs.downloads, { recursive: true });
    mvn(
      ['dependency:copy-dependencies', '-DincludeScope=runtime', `-DoutputDirectory=${dirs.kafkaLib}`],
      mavenJava,
    );
    mvn(
      ['dependency:copy', `-Dartifact=${apicurioArtifact}`, `-DoutputDirectory=${dirs.downloads}`],
      mavenJava,
    );
    const archive = readdirSync(dirs.downloads).find(
      (f) => f.startsWith('apicurio-registry-app') && f.endsWith('.tar.gz'),
    );
    if (archive === undefined)
      throw new StackError('STACK_DOWNLOAD_FAILED', 'the Apicurio Registry archive was not downloaded');
    mkdirSync(dirs.apicurio, { recursive: true });
    const untar = spawnSync('tar', ['-xzf', path.join(dirs.downloads, archive), '-C', dirs.apicurio], {
      encoding: 'utf8',
    });
    if (untar.status !== 0)
      throw new StackError('STACK_DOWNLOAD_FAILED', `could not unpack ${archive}: ${untar.stderr}`);
    flattenSingleFolder(dirs.apicurio);
    if (!existsSync(registryJar))
      throw new StackError('STACK_DOWNLOAD_FAILED', `quarkus-run.jar not found in ${archive}`);
    rmSync(path.join(dirs.downloads, archive), { force: true });
    writeFileSync(marker, `${fingerprint}\n`);
  }
  return { kafkaClasspath: path.join(dirs.kafkaLib, '*'), registryJar };
}

/** The archive may wrap the app in one top-level folder; the launcher wants quarkus-run.jar at the top. */
function flattenSingleFolder(dir: string): void {
  if (existsSync(path.join(dir, 'quarkus-run.jar'))) return;
  const entries = readdirSync(dir);
  for (const entry of entries) {
    const inner = path.join(dir, entry);
    if (existsSync(path.join(inner, 'quarkus-run.jar'))) {
      spawnSync('sh', ['-c', `mv "${inner}"/* "${inner}"/.[!.]* "${dir}"/ 2>/dev/null; rmdir "${inner}"`]);
      return;
    }
  }
}
